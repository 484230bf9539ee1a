import { DeleteTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { randomBytes } from 'node:crypto';
import { createTable, localClient } from '../../src/local/dynamodb-local';

/** A fresh table on the run's DynamoDB Local engine, for one test file. */
export async function freshTable(): Promise<{ client: DynamoDBClient; tableName: string; drop(): Promise<void> }> {
  const endpoint = process.env.ROLEGATE_TEST_DYNAMODB_ENDPOINT;
  if (!endpoint) throw new Error('ROLEGATE_TEST_DYNAMODB_ENDPOINT is not set: the jest globalSetup did not start DynamoDB Local.');
  const client = localClient(endpoint);
  const tableName = `rolegate-test-${randomBytes(4).toString('hex')}`;
  await createTable(client, tableName);
  return {
    client,
    tableName,
    drop: async () => {
      await client.send(new DeleteTableCommand({ TableName: tableName }));
      client.destroy();
    },
  };
}
