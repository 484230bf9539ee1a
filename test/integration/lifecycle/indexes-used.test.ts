import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoSlackStore, type SlackJob } from '../../../src/adapters/dynamodb/slack-store';
import type { SlackApi } from '../../../src/adapters/slack/slack-client';
import { createRequest } from '../../../src/domain/use-cases/createRequest';
import { extendRequest } from '../../../src/domain/use-cases/extendRequest';
import { provisionRequest } from '../../../src/domain/use-cases/provisionRequest';
import { sweep } from '../../../src/domain/use-cases/sweep';
import { runSlackJob } from '../../../src/handlers/slack/run-job';
import { call } from '../../helpers/events';
import { harness, type Harness } from '../../helpers/harness';
import { ARN, settingsWith } from '../../helpers/settings';
import { beyondRole, sentToDynamo } from '../../helpers/role-actions';
import { RecordingProvisioner, strayRole } from '../../helpers/recording-provisioner';
import { reconcile } from '../../../src/domain/use-cases/reconcile';

/*
 * Each deployed function may send only what its role holds (test/helpers/role-actions.ts,
 * which the template test holds the packaged roles to), and query only the indexes its role names
 * (serverless.yml: the sweeper byDue and not the table itself; the API byStatus,
 * byPrincipal and byExtends; the worker byPrincipal and byExtends). IAM would
 * refuse any other in production, where no test runs: these record the index
 * of every Query the code sends.
 */

const api = (arn: string) => ({ arn, via: 'api' as const });
const MINUTE = 60_000;

let h: Harness;
beforeEach(async () => {
  h = await harness();
});
afterEach(async () => {
  await h.close();
});

/** The indexes (or 'table') of every Query sent while `work` runs. */
async function indexesQueriedBy(doc: DynamoDBDocumentClient, work: () => Promise<unknown>): Promise<Set<string>> {
  const sent = await sentToDynamo(doc, work);
  return new Set([...sent.indexes, ...(sent.tableActions.has('dynamodb:Query') ? ['table'] : [])]);
}

it('the sweeper queries only the due index while it times out, expires and re-drives', async () => {
  // Arrange: one request of each kind of due work.
  const pending = await createRequest(h.deps, api(ARN.alice), { account: 'production', profile: 'ReadOnly', durationMinutes: 60, reason: 'times out' });
  const expiring = await createRequest(h.deps, api(ARN.bob), { account: 'staging', profile: 'ReadOnly', durationMinutes: 15, reason: 'expires' });
  await provisionRequest(h.deps, expiring.id);
  const stuck = await createRequest(h.deps, api(ARN.alice), { account: 'staging', profile: 'S3ReadOnly', durationMinutes: 480, reason: 're-driven' });
  h.clock.advance(200 * MINUTE);

  const sent = await sentToDynamo(h.requests.doc, async () => expect(await sweep(h.deps)).toMatchObject({ timedOut: 1, expired: 1, provisioned: 1, errors: [] }));

  // Not even the table: every other read of the sweeper's is by key; and nothing its role does not hold.
  expect([...sent.indexes]).toEqual(['byDue']);
  expect(beyondRole(sent, 'SweeperRole')).toEqual({ actions: [], deletes: [] });
  expect([...sent.tableActions].sort()).toEqual(['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem']);
  expect((await h.requests.get(pending.id))!.status).toBe('TIMED_OUT');
  expect((await h.requests.get(stuck.id))!.status).toBe('ACTIVE');
});

it('the API queries only the listing indexes: lists, and a revoke that looks for extensions', async () => {
  const r = await createRequest(h.deps, api(ARN.alice), { account: 'staging', profile: 'ReadOnly', durationMinutes: 60, reason: 'work' });
  await provisionRequest(h.deps, r.id);
  await extendRequest(h.deps, api(ARN.alice), r.id, { durationMinutes: 60, reason: 'more' });

  const indexes = await indexesQueriedBy(h.requests.doc, async () => {
    expect((await call(h.api, { method: 'GET', path: '/requests', caller: ARN.alice })).status).toBe(200);
    expect((await call(h.api, { method: 'GET', path: '/requests', caller: ARN.leadAnna, query: { view: 'awaiting' } })).status).toBe(200);
    expect((await call(h.api, { method: 'POST', path: `/requests/${r.id}/revoke`, caller: ARN.alice, body: {} })).status).toBe(200);
  });

  expect([...indexes].filter((i) => i !== 'table').sort()).toEqual(['byExtends', 'byPrincipal', 'byStatus']);
});

it("the worker queries only the caller's listing and the extensions index: Slack jobs that decide, list, show and revoke, and provisioning", async () => {
  await h.close();
  h = await harness({ settings: settingsWith((d) => void (d.slack = { users: { U0ALICE: ARN.alice, U0LEADANNA: ARN.leadAnna } })) });
  const runner = {
    deps: h.deps,
    slack: { postToResponseUrl: async () => undefined } as unknown as SlackApi,
    jobs: new DynamoSlackStore(h.requests.doc, h.tableName, () => h.clock.now()),
  };
  const job = (id: string, slackUserId: string, principalArn: string, work: SlackJob['work']): SlackJob => ({
    id,
    slackUserId,
    principalArn,
    responseUrl: 'https://hooks.slack.com/commands/T0001ABCD/1/x',
    createdAt: h.clock.now().toISOString(),
    work,
  });
  const r = await createRequest(h.deps, api(ARN.alice), { account: 'production', profile: 'ReadOnly', durationMinutes: 60, reason: 'work' });

  const texts: string[] = [];
  const indexes = await indexesQueriedBy(h.requests.doc, async () => {
    const run = async (j: SlackJob) => texts.push(((await runSlackJob(runner, j)) as { text: string }).text);
    await run(job('approve-1', 'U0LEADANNA', ARN.leadAnna, { kind: 'approve', requestId: r.id }));
    expect((await provisionRequest(h.deps, r.id)).outcome).toBe('active');
    await run(job('list-1', 'U0ALICE', ARN.alice, { kind: 'command', command: { kind: 'list' } }));
    await run(job('status-1', 'U0ALICE', ARN.alice, { kind: 'command', command: { kind: 'status', requestId: r.id } }));
    await run(job('revoke-1', 'U0ALICE', ARN.alice, { kind: 'command', command: { kind: 'revoke', requestId: r.id } }));
  });

  // Each job did its work (a refusal would be a friendly "Not done" text, with other queries or none).
  expect(texts).toEqual([
    expect.stringContaining(`You approved \`${r.id}\``),
    expect.stringContaining(`\`${r.id}\` *ACTIVE*`),
    expect.stringContaining(`Decisions: APPROVE by ${ARN.leadAnna}`),
    expect.stringContaining(`Revoked \`${r.id}\``),
  ]);
  expect([...indexes].filter((i) => i !== 'table').sort()).toEqual(['byExtends', 'byPrincipal']);
});

it('the sweeper sends nothing its role lacks when a step fails and is put off for later', async () => {
  const iam = new RecordingProvisioner();
  await h.close();
  h = await harness({ provisioner: iam });
  const expiring = await createRequest(h.deps, api(ARN.bob), { account: 'staging', profile: 'ReadOnly', durationMinutes: 15, reason: 'expires' });
  await provisionRequest(h.deps, expiring.id);
  h.clock.advance(20 * MINUTE);
  iam.failNext = [new Error('IAM unreachable')];

  const sent = await sentToDynamo(h.requests.doc, async () => expect((await sweep(h.deps)).errors).toHaveLength(1));

  expect((await h.requests.get(expiring.id))!.sweepRetry).toMatchObject({ kind: 'EXPIRE', attempts: 1 });
  expect(beyondRole(sent, 'SweeperRole')).toEqual({ actions: [], deletes: [] });
  expect([...sent.indexes]).toEqual(['byDue']);
});

it("the sweeper sends nothing its role lacks when an expiry's commit goes unanswered after its IAM writes, and audits them", async () => {
  const expiring = await createRequest(h.deps, api(ARN.bob), { account: 'staging', profile: 'ReadOnly', durationMinutes: 15, reason: 'expires' });
  await provisionRequest(h.deps, expiring.id);
  h.clock.advance(20 * MINUTE);
  // The commit of EXPIRED times out without landing: the attempt's writes are audited while the request is unchanged.
  const commit = h.requests.commit.bind(h.requests);
  h.requests.commit = async (write) => {
    if (write.request.status === 'EXPIRED') throw Object.assign(new Error('socket timed out'), { name: 'TimeoutError' });
    return commit(write);
  };

  const sent = await sentToDynamo(h.requests.doc, async () => expect((await sweep(h.deps)).errors).toHaveLength(1));

  expect((await h.requests.getDetail(expiring.id))!.events.at(-1)).toMatchObject({ action: 'ACCESS_REMOVAL_ATTEMPT_FAILED', data: { writesBeforeError: ['DeleteRole', 'DeleteUserPolicy'], commitUnanswered: true } });
  expect(sent.tableActions.has('dynamodb:ConditionCheckItem')).toBe(true);
  expect(beyondRole(sent, 'SweeperRole')).toEqual({ actions: [], deletes: [] });
});

it('the reconciler sends nothing its role lacks, and queries no index, while it checks, reports and repairs', async () => {
  const iam = new RecordingProvisioner();
  await h.close();
  h = await harness({ provisioner: iam, settings: settingsWith((d) => ((d.provisioner as Record<string, unknown>).driftAction = 'repair')) });
  const live = await createRequest(h.deps, api(ARN.alice), { account: 'staging', profile: 'ReadOnly', durationMinutes: 60, reason: 'live' });
  await provisionRequest(h.deps, live.id);
  const liveRole = (await h.requests.get(live.id))!.grantKey!;
  // A role no grant names, made by this deployment (its request is in the table; removed in repair mode),
  // and a live grant's role whose trust was widened (repaired; a narrowed one would be left as it is).
  const maker = await createRequest(h.deps, api(ARN.alice), { account: 'production', profile: 'ReadOnly', durationMinutes: 60, reason: 'made the stray role' });
  iam.foreign.set('222222222222#rg-ReadOnly-mallory-deadbeef', strayRole('222222222222', { requestIds: [maker.id] }));
  iam.tampered.set(liveRole, { trustPolicy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: '*' }, Action: 'sts:AssumeRole' }] } });

  const logged = iam.log.length;
  let found: Array<{ roleName: string; repaired: boolean }> = [];
  const sent = await sentToDynamo(h.requests.doc, async () => (found = await reconcile(h.deps)));

  expect(found.map((d) => [d.roleName, d.repaired]).sort()).toEqual([
    ['rg-ReadOnly-mallory-deadbeef', true],
    [liveRole.split('#')[1], true],
  ].sort());
  const reconciled = iam.log.slice(logged);
  expect(reconciled.filter((l) => l.startsWith('remove rg-ReadOnly-mallory-deadbeef '))).toHaveLength(1);
  expect(reconciled.filter((l) => l.startsWith(`apply ${liveRole.split('#')[1]} `))).toHaveLength(1);
  expect(beyondRole(sent, 'ReconcilerRole')).toEqual({ actions: [], deletes: [] });
  expect([...sent.indexes]).toEqual([]);
  expect(sent.tableActions.has('dynamodb:Query')).toBe(true);
});
