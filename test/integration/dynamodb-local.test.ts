import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { freshTable } from '../helpers/dynamo';

describe('the test DynamoDB engine', () => {
  it('creates the table from serverless.yml with its four indexes', async () => {
    const t = await freshTable();
    try {
      const out = await t.client.send(new DescribeTableCommand({ TableName: t.tableName }));
      expect(out.Table?.KeySchema).toEqual([
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ]);
      expect(out.Table?.GlobalSecondaryIndexes?.map((g) => g.IndexName).sort()).toEqual(['byDue', 'byExtends', 'byPrincipal', 'byStatus']);
    } finally {
      await t.drop();
    }
  });
});
