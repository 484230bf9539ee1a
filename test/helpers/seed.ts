import { BatchWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { requestItem } from '../../src/adapters/dynamodb/keys';
import type { AccessRequest } from '../../src/domain/model';

/** Writes many ACTIVE requests straight into the table (test and benchmark set-up only). */
export async function seedActive(doc: DynamoDBDocumentClient, tableName: string, count: number, endsAt: (i: number) => string, prefix: string): Promise<string[]> {
  const requests = Array.from({ length: count }, (_, i): AccessRequest => {
    const id = `${prefix}${String(i).padStart(26 - prefix.length, '0')}`;
    const principal = `arn:aws:iam::111111111111:user/u${prefix}${i}`;
    return {
      id, version: 3, status: 'ACTIVE', requester: principal, principalArn: principal, accountId: '222222222222', accountAlias: 'staging',
      profile: 'ReadOnly', ruleId: 'staging-self-service', durationMinutes: 60, reason: 'seed', approvalsRequired: 0, approvals: [],
      createdAt: '2026-03-02T08:00:00.000Z', updatedAt: '2026-03-02T08:00:00.000Z', decisionDeadline: '2026-03-03T08:00:00.000Z',
      approvedAt: '2026-03-02T08:00:00.000Z', endsAt: endsAt(i),
    };
  });
  await seedRequests(doc, tableName, requests);
  return requests.map((r) => r.id);
}

/** Writes requests straight into the table, 25 to a batch (test and benchmark set-up only). */
export async function seedRequests(doc: DynamoDBDocumentClient, tableName: string, requests: readonly AccessRequest[]): Promise<void> {
  const items = requests.map(requestItem);
  const chunks: (typeof items)[] = [];
  for (let i = 0; i < items.length; i += 25) chunks.push(items.slice(i, i + 25));
  // A few writers at once keep DynamoDB Local busy without flooding it.
  const writers = 4;
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      for (let c = w; c < chunks.length; c += writers) {
        let pending: Record<string, unknown>[] | undefined = chunks[c];
        while (pending?.length) {
          const out = await doc.send(new BatchWriteCommand({ RequestItems: { [tableName]: pending.map((Item) => ({ PutRequest: { Item } })) } }));
          pending = out.UnprocessedItems?.[tableName]?.map((x) => x.PutRequest!.Item!);
        }
      }
    }),
  );
}
