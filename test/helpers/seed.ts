import { BatchWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { grantItem, requestItem } from '../../src/adapters/dynamodb/keys';
import type { AccessRequest, Grant } from '../../src/domain/model';
import { parsePrincipalArn } from '../../src/domain/principal';
import { roleNameFor } from '../../src/domain/provisioning/role-name';

/**
 * Writes many ACTIVE requests straight into the table (test and benchmark set-up only). With `grants`, each
 * also gets its grant item, as provisioning leaves it (the role named for it, in that provisioner mode): what
 * the sweeper takes the lease on when it ends one.
 */
export async function seedActive(
  doc: DynamoDBDocumentClient,
  tableName: string,
  count: number,
  endsAt: (i: number) => string,
  prefix: string,
  options: { grants?: 'aws' | 'dry-run' } = {},
): Promise<string[]> {
  const requests = Array.from({ length: count }, (_, i): AccessRequest => {
    const id = `${prefix}${String(i).padStart(26 - prefix.length, '0')}`;
    const principal = `arn:aws:iam::111111111111:user/u${prefix}${i}`;
    return {
      id, version: 3, status: 'ACTIVE', requester: principal, principalArn: principal, accountId: '222222222222', accountAlias: 'staging',
      profile: 'ReadOnly', ruleId: 'staging-self-service', durationMinutes: 60, reason: 'seed', approvalsRequired: 0, approvals: [],
      createdAt: '2026-03-02T08:00:00.000Z', updatedAt: '2026-03-02T08:00:00.000Z', decisionDeadline: '2026-03-03T08:00:00.000Z',
      approvedAt: '2026-03-02T08:00:00.000Z', endsAt: endsAt(i),
      ...(options.grants ? { grantKey: `222222222222#${roleNameFor('ReadOnly', parsePrincipalArn(principal))}` } : {}),
    };
  });
  await seedItems(doc, tableName, requests.map(requestItem));
  if (options.grants) {
    const mode = options.grants;
    const grants = requests.map((r): Grant => {
      const roleName = r.grantKey!.split('#')[1]!;
      return { grantKey: r.grantKey!, accountId: r.accountId, roleName, principalArn: r.principalArn, profile: r.profile, members: { [r.id]: r.endsAt! }, mode, version: 1, updatedAt: r.approvedAt! };
    });
    await seedItems(doc, tableName, grants.map(grantItem));
  }
  return requests.map((r) => r.id);
}

/** Writes requests straight into the table, 25 to a batch (test and benchmark set-up only). */
export async function seedRequests(doc: DynamoDBDocumentClient, tableName: string, requests: readonly AccessRequest[]): Promise<void> {
  await seedItems(doc, tableName, requests.map(requestItem));
}

async function seedItems(doc: DynamoDBDocumentClient, tableName: string, items: Record<string, unknown>[]): Promise<void> {
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
