import { PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { SLACK_JOB_SK } from '../../../src/adapters/dynamodb/slack-store';
import { duePk, REQUEST_SK, requestItem } from '../../../src/adapters/dynamodb/keys';
import type { AccessRequest } from '../../../src/domain/model';
import { createRequest } from '../../../src/domain/use-cases/createRequest';
import { decideRequest } from '../../../src/domain/use-cases/decideRequest';
import { provisionRequest } from '../../../src/domain/use-cases/provisionRequest';
import { sweep } from '../../../src/domain/use-cases/sweep';
import { call } from '../../helpers/events';
import { harness, type Harness } from '../../helpers/harness';
import { RecordingProvisioner } from '../../helpers/recording-provisioner';
import { ARN } from '../../helpers/settings';
import { allItems } from '../../helpers/table';

/*
 * The indexes hold any item that carries their key attributes. The Slack
 * function, the one facing the internet behind only a signature, may write
 * items under SLACKJOB#; its IAM statement now allows only a job's
 * attributes, and the store takes nothing for a request but a request item
 * under its own key. These tests plant what a subverted Slack function could
 * write under the earlier statement: a copy of a real request under a job key,
 * with the index keys that put it in front of the sweeper and the listings.
 */

const api = (arn: string) => ({ arn, via: 'api' as const });
const MINUTE = 60_000;

let h: Harness;
let iam: RecordingProvisioner;
beforeEach(async () => {
  iam = new RecordingProvisioner();
  h = await harness({ provisioner: iam });
});
afterEach(async () => {
  await h.close();
});

/** Writes, under a Slack job's key, a request item that is `forged` with the given index keys (and a job's sort key, unless `keys` gives one). */
async function plant(jobId: string, forged: AccessRequest, keys: Record<string, string>): Promise<void> {
  const item = { ...requestItem(forged), pk: `SLACKJOB#${jobId}`, sk: SLACK_JOB_SK, ...keys };
  await h.requests.doc.send(new PutCommand({ TableName: h.tableName, Item: item }));
  if (keys.duepk !== undefined) {
    // The copy is in the due index, where the sweeper looks, so what it does not do is its own choice.
    const seen = await h.requests.doc.send(new QueryCommand({ TableName: h.tableName, IndexName: 'byDue', KeyConditionExpression: 'duepk = :k', ExpressionAttributeValues: { ':k': keys.duepk } }));
    expect((seen.Items ?? []).map((i) => i.pk)).toContain(item.pk);
  }
}

// A request's own sort key is not enough: the partition key must be the one its id gives.
it.each<[string, Record<string, string>]>([
  ["the job's sort key", {}],
  ["a request's sort key", { sk: REQUEST_SK }],
])('does not provision a request copied under a job key, with %s, as another requester, profile and rule', async (_what, sortKey) => {
  // Arrange: alice's production ReadOnly request, approved by one lead, not provisioned yet.
  const r = await createRequest(h.deps, api(ARN.alice), { account: 'production', profile: 'ReadOnly', durationMinutes: 60, reason: 'read the logs' });
  await decideRequest(h.deps, api(ARN.leadAnna), { requestId: r.id, decision: 'APPROVE' });
  const approved = (await h.requests.get(r.id))!;
  expect(approved.status).toBe('APPROVED');
  // Its copy, as bob's EC2Admin under the two-approval rule, due for provisioning first.
  const forged: AccessRequest = { ...approved, ruleId: 'admin-two-approvals', profile: 'EC2Admin', requester: ARN.bob, principalArn: ARN.bob };
  await plant('evil', forged, { ...sortKey, duepk: duePk('PROVISION'), duesk: `2000-01-01T00:00:00.000Z#${r.id}` });
  h.clock.advance(5 * MINUTE);

  const report = await sweep(h.deps);

  // Only alice's own request was provisioned (the stuck-approval re-drive), as what was approved.
  expect(report).toMatchObject({ provisioned: 1, errors: [] });
  expect([...iam.roles.values()].map((spec) => [spec.profile.name, spec.principal.arn])).toEqual([['ReadOnly', ARN.alice]]);
  expect((await h.requests.get(r.id))!).toMatchObject({ status: 'ACTIVE', requester: ARN.alice, profile: 'ReadOnly', ruleId: 'production-read' });
});

it('does not end live access, nor rewrite its record, through a copy due for expiry', async () => {
  // Arrange: alice's staging access, live for another 8 hours.
  const r = await createRequest(h.deps, api(ARN.alice), { account: 'staging', profile: 'ReadOnly', durationMinutes: 480, reason: 'read the logs' });
  await provisionRequest(h.deps, r.id);
  const active = (await h.requests.get(r.id))!;
  expect(active.status).toBe('ACTIVE');
  await plant('expire', { ...active, reason: 'FORGED' }, { duepk: duePk('EXPIRE'), duesk: `2000-01-01T00:00:00.000Z#${r.id}` });
  const before = (await allItems(h)).filter((i) => i.pk === `REQ#${r.id}`);

  const report = await sweep(h.deps);

  expect(report).toMatchObject({ expired: 0, errors: [] });
  expect((await allItems(h)).filter((i) => i.pk === `REQ#${r.id}`)).toEqual(before);
  expect(iam.roles.size).toBe(1);
});

it('does not list a copy under a job key among the requests awaiting a decision or those of a requester', async () => {
  const r = await createRequest(h.deps, api(ARN.alice), { account: 'production', profile: 'ReadOnly', durationMinutes: 60, reason: 'read the logs' });
  const pending = (await h.requests.get(r.id))!;
  await plant('listed', { ...pending, id: '01ARZ3NDEKTSV4RRFFQ69G5FAV', reason: 'approve me' }, {});

  const byStatus = await call(h.api, { method: 'GET', path: '/requests', query: { view: 'awaiting' }, caller: ARN.leadAnna });
  const mine = await call(h.api, { method: 'GET', path: '/requests', caller: ARN.alice });

  expect(byStatus.status).toBe(200);
  expect(byStatus.body.items.map((i: { id: string }) => i.id)).toEqual([r.id]);
  expect(mine.status).toBe(200);
  expect(mine.body.items.map((i: { id: string }) => i.id)).toEqual([r.id]);
});
