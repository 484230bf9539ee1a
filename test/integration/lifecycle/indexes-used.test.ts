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

/*
 * Each deployed function may query only the indexes its role names
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
  const seen = new Set<string>();
  const name = `recordIndexes${Math.random().toString(36).slice(2)}`;
  doc.middlewareStack.add(
    (next, context) => async (args) => {
      if (String(context.commandName ?? '').startsWith('Query')) seen.add((args.input as { IndexName?: string }).IndexName ?? 'table');
      return next(args);
    },
    { step: 'initialize', name },
  );
  try {
    await work();
  } finally {
    doc.middlewareStack.remove(name);
  }
  return seen;
}

it('the sweeper queries only the due index while it times out, expires and re-drives', async () => {
  // Arrange: one request of each kind of due work.
  const pending = await createRequest(h.deps, api(ARN.alice), { account: 'production', profile: 'ReadOnly', durationMinutes: 60, reason: 'times out' });
  const expiring = await createRequest(h.deps, api(ARN.bob), { account: 'staging', profile: 'ReadOnly', durationMinutes: 15, reason: 'expires' });
  await provisionRequest(h.deps, expiring.id);
  const stuck = await createRequest(h.deps, api(ARN.alice), { account: 'staging', profile: 'S3ReadOnly', durationMinutes: 480, reason: 're-driven' });
  h.clock.advance(200 * MINUTE);

  const indexes = await indexesQueriedBy(h.requests.doc, async () => expect(await sweep(h.deps)).toMatchObject({ timedOut: 1, expired: 1, provisioned: 1, errors: [] }));

  // Not even the table: every other read of the sweeper's is by key.
  expect([...indexes]).toEqual(['byDue']);
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
