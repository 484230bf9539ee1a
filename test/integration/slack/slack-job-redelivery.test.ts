import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { decodeTime } from 'ulid';
import { DynamoSlackStore, type SlackJob } from '../../../src/adapters/dynamodb/slack-store';
import { signSlackRequest } from '../../../src/adapters/slack/signature';
import { SlackClient } from '../../../src/adapters/slack/slack-client';
import { ConflictError } from '../../../src/domain/errors';
import { createRequest } from '../../../src/domain/use-cases/createRequest';
import { decideRequest, GIVEN_AT_MAX_LAG_MS } from '../../../src/domain/use-cases/decideRequest';
import { provisionRequest } from '../../../src/domain/use-cases/provisionRequest';
import { INTERACTIVE_LEASE_ATTEMPTS } from '../../../src/handlers/lease-waits';
import type { HttpEvent } from '../../../src/handlers/http/types';
import { slackApp } from '../../../src/handlers/slack/app';
import { runSlackJob } from '../../../src/handlers/slack/run-job';
import { handleStream, type WorkerApp } from '../../../src/handlers/worker';
import { harness, type Harness } from '../../helpers/harness';
import { countingAcquires, holdLease } from '../../helpers/leases';
import { ARN, settingsWith } from '../../helpers/settings';
import { allItems, allRawItems } from '../../helpers/table';
import { blockActionsPayload, interactionBody, slashCommandBody } from '../../unit/slack/fixtures';

/*
 * The stream delivers a Slack job at least once: a failed record, a failure
 * earlier in its batch or a worker timeout sends it again. Here the same
 * INSERT record (the job item as DynamoDB Local stored it) is delivered
 * twice, with a Slack whose response_url answers 503.
 */

const SECRET = '8f742231b10e8888abcd99yyyzzz85a5';
const RESPONSE_URL = 'https://hooks.slack.com/commands/T0001ABCD/1234567890/abcdefABCDEF123456';
const jobTime = new Date('2026-03-02T08:59:58.250Z');
const plentyOfTime = { getRemainingTimeInMillis: () => 120_000 };

let h: Harness;
let store: DynamoSlackStore;
let endpoint: ReturnType<typeof slackApp>;
let worker: WorkerApp;
/** Every post to a response_url; Slack answers each with `status`. */
let posts: { url: string; body: string }[];
let status: number;

beforeEach(async () => {
  const settings = settingsWith((d) => {
    d.slack = { users: { U0ALICE: ARN.alice, U0LEADANNA: ARN.leadAnna } };
  });
  h = await harness({ settings });
  h.deps.notifications = 'stream';
  posts = [];
  status = 503;
  const slack = new SlackClient({
    token: 'xoxb-test',
    fetch: async (url, init) => {
      posts.push({ url, body: String(init.body) });
      return new Response(status === 200 ? 'ok' : 'service_unavailable', { status });
    },
  });
  store = new DynamoSlackStore(h.requests.doc, h.tableName, () => h.clock.now());
  endpoint = slackApp({ settings, slack, store, signingSecret: async () => SECRET, logger: h.logger, now: () => jobTime });
  worker = { deps: h.deps, logger: h.logger, flushMetrics: () => undefined, slack: { api: slack, store, signingSecret: async () => SECRET } };
});
afterEach(async () => {
  await h.close();
});

function signed(path: string, body: string, at = jobTime): HttpEvent {
  const ts = Math.floor(at.getTime() / 1000);
  return {
    version: '2.0',
    rawPath: path,
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': String(ts), 'x-slack-signature': signSlackRequest(SECRET, ts, body) },
    requestContext: { requestId: 'r1', http: { method: 'POST', path } },
    body,
    isBase64Encoded: false,
  } as unknown as HttpEvent;
}

/** The job the endpoint just wrote, as the INSERT record the stream delivers (and re-delivers unchanged). */
async function jobRecord(): Promise<DynamoDBRecord> {
  const [image] = (await allRawItems(h)).filter((i) => i.type?.S === 'slack-job');
  return { eventName: 'INSERT', dynamodb: { NewImage: image as Record<string, AttributeValue> as never, SequenceNumber: '4200' } };
}

async function jobItem(): Promise<Record<string, unknown>> {
  return (await allItems(h)).find((i) => i.type === 'slack-job')!;
}

it('keeps a record whose reply Slack refused as handled, and a redelivery makes no second request and no second reply', async () => {
  await endpoint(signed('/slack/commands', slashCommandBody('request production ReadOnly 90m INC-42', { user_id: 'U0ALICE' })));
  const record = await jobRecord();

  const first = await handleStream(worker, { Records: [record] }, plentyOfTime);
  const second = await handleStream(worker, { Records: [record] }, plentyOfTime);

  expect([first.batchItemFailures, second.batchItemFailures]).toEqual([[], []]);
  const mine = (await h.requests.list({ requester: ARN.alice, limit: 10 })).items;
  expect(mine).toHaveLength(1);
  // One attempt, on the first delivery; the redelivery finds the job done.
  expect(posts).toHaveLength(1);
  expect(JSON.parse(posts[0]!.body).text).toBe(`Requested \`${mine[0]!.id}\`: waiting for 1 approval(s) until ${mine[0]!.decisionDeadline}.`);
  expect(await jobItem()).toMatchObject({ doneAt: h.clock.now().toISOString() });
  expect(h.logger.lines).toContainEqual({
    level: 'warn',
    message: 'slack job reply not delivered; the work is done and is not repeated',
    fields: { jobId: 'cmd:13345224609.738474920.8088930838d88f008e0', error: 'SlackApiError: Slack response_url failed: service_unavailable' },
  });
  expect(JSON.stringify(h.logger.lines)).not.toContain('hooks.slack.com');
  expect(h.metrics.counts.get('SlackReplyUndelivered')).toBe(1);
});

it('makes the same single request when a job killed between creating it and marking itself done runs again', async () => {
  await endpoint(signed('/slack/commands', slashCommandBody('request production ReadOnly 90m INC-42', { user_id: 'U0ALICE' })));
  const record = await jobRecord();
  const job = JSON.parse(record.dynamodb!.NewImage!.job!.S!);
  // The first run gets as far as the commit: nothing after it reaches DynamoDB or Slack.
  class Killed extends Error {}
  const markDone = jest.fn(async () => {
    throw new Killed();
  });
  await runSlackJob({ deps: h.deps, slack: { postToResponseUrl: async () => { throw new Killed(); } } as never, jobs: { isDone: (id) => store.isDone(id), markDone } }, job);
  expect(markDone).toHaveBeenCalledTimes(1);
  const [made] = (await h.requests.list({ requester: ARN.alice, limit: 10 })).items;
  expect((await jobItem()).doneAt).toBeUndefined();

  status = 200;
  const result = await handleStream(worker, { Records: [record] }, plentyOfTime);

  expect(result.batchItemFailures).toEqual([]);
  const mine = (await h.requests.list({ requester: ARN.alice, limit: 10 })).items;
  expect(mine.map((r) => r.id)).toEqual([made!.id]);
  // A ULID whose time is the job's (the request's own createdAt is when the worker ran it).
  expect(made!.id).toMatch(/^[0-7][0-9A-HJKMNP-TV-Z]{25}$/);
  expect(decodeTime(made!.id)).toBe(jobTime.getTime());
  expect((await h.requests.getDetail(made!.id))!.events.map((e) => e.action)).toEqual(['REQUESTED']);
  expect(posts.map((p) => JSON.parse(p.body).text)).toEqual([`Requested \`${made!.id}\`: waiting for 1 approval(s) until ${made!.decisionDeadline}.`]);
  expect(posts.map((p) => p.url)).toEqual([RESPONSE_URL]);
  expect((await jobItem()).doneAt).toBe(h.clock.now().toISOString());
});

it('posts no second reply for a redelivered approval click', async () => {
  status = 200;
  const request = await createRequest(h.deps, { arn: ARN.alice, via: 'api' }, { account: 'production', profile: 'EC2Admin', durationMinutes: 60, reason: 'x' });
  await endpoint(signed('/slack/interactions', interactionBody(blockActionsPayload('rolegate_approve', request.id))));
  const record = await jobRecord();

  await handleStream(worker, { Records: [record] }, plentyOfTime);
  await handleStream(worker, { Records: [record] }, plentyOfTime);

  expect((await h.requests.getDetail(request.id))!.decisions.map((d) => d.approver)).toEqual([ARN.leadAnna]);
  expect(posts.map((p) => JSON.parse(p.body).text)).toEqual([`Your approval of \`${request.id}\` is recorded (1 of 2).`]);
});

it('weighs an approval clicked before the decision deadline as of the click, though the worker takes it up after the deadline', async () => {
  status = 200;
  const request = await createRequest(h.deps, { arn: ARN.alice, via: 'api' }, { account: 'production', profile: 'ReadOnly', durationMinutes: 60, reason: 'x' });
  const clicked = new Date(Date.parse(request.decisionDeadline) - 5_000);
  const clicks = slackApp({ settings: h.deps.settings, slack: worker.slack!.api, store, signingSecret: async () => SECRET, logger: h.logger, now: () => clicked });
  await clicks(signed('/slack/interactions', interactionBody(blockActionsPayload('rolegate_approve', request.id)), clicked));
  const record = await jobRecord();
  // The worker, behind, runs the job 10 s after the deadline: the sweeper has not timed the request out yet.
  h.clock.set(new Date(Date.parse(request.decisionDeadline) + 10_000).toISOString());

  await handleStream(worker, { Records: [record] }, plentyOfTime);

  expect((await h.requests.get(request.id))!).toMatchObject({ status: 'APPROVED', approvals: [ARN.leadAnna] });
  expect(posts.map((p) => JSON.parse(p.body).text)).toEqual([`You approved \`${request.id}\`: it is approved and access is being set up.`]);
  // An approval through the API at that moment is too late.
  const other = await createRequest(h.deps, { arn: ARN.bob, via: 'api' }, { account: 'production', profile: 'ReadOnly', durationMinutes: 60, reason: 'y' });
  h.clock.set(other.decisionDeadline);
  await expect(decideRequest(h.deps, { arn: ARN.leadAnna, via: 'api' }, { requestId: other.id, decision: 'APPROVE' })).rejects.toMatchObject({ code: 'CONFLICT' });
  // A click time ahead of the worker's clock (skew) is weighed as of the worker's: never later than now.
  h.clock.set(new Date(Date.parse(other.decisionDeadline) - 1_000).toISOString());
  const ahead = new Date(Date.parse(other.decisionDeadline) + 1_000).toISOString();
  expect(await decideRequest(h.deps, { arn: ARN.leadAnna, via: 'slack' }, { requestId: other.id, decision: 'APPROVE', givenAt: ahead })).toMatchObject({ status: 'APPROVED' });
  // Nor earlier than the worker's lag allows: a time long past (or no time at all) is no click's.
  const late = await createRequest(h.deps, { arn: ARN.bob, via: 'api' }, { account: 'production', profile: 'ReadOnly', durationMinutes: 60, reason: 'z' });
  h.clock.set(new Date(Date.parse(late.decisionDeadline) + 1_000).toISOString());
  for (const givenAt of [new Date(Date.parse(late.decisionDeadline) - GIVEN_AT_MAX_LAG_MS).toISOString(), '', '1970-01-01T00:00:00.000Z']) {
    await expect(decideRequest(h.deps, { arn: ARN.leadAnna, via: 'slack' }, { requestId: late.id, decision: 'APPROVE', givenAt })).rejects.toMatchObject({ code: 'CONFLICT' });
  }
  // Within it, in time.
  const inTime = new Date(Date.parse(late.decisionDeadline) + 1_000 - GIVEN_AT_MAX_LAG_MS).toISOString();
  expect(await decideRequest(h.deps, { arn: ARN.leadAnna, via: 'slack' }, { requestId: late.id, decision: 'APPROVE', givenAt: inTime })).toMatchObject({ status: 'APPROVED' });
});

it('refuses a chosen request id that another caller already holds, and hands nothing back', async () => {
  const alices = await createRequest(h.deps, { arn: ARN.alice, via: 'slack' }, { account: 'production', profile: 'ReadOnly', durationMinutes: 60, reason: 'x', requestId: '01KJNWP2NA4Z6K8N0Q5R7S9T1V' });

  const bobs = createRequest(h.deps, { arn: ARN.bob, via: 'slack' }, { account: 'production', profile: 'ReadOnly', durationMinutes: 60, reason: 'y', requestId: alices.id });

  await expect(bobs).rejects.toBeInstanceOf(ConflictError);
  expect((await h.requests.list({ requester: ARN.bob, limit: 10 })).items).toEqual([]);
});

it('a Slack revoke waits for a busy grant only the interactive budget, then tells the person to try again', async () => {
  const r = await createRequest(h.deps, { arn: ARN.alice, via: 'api' }, { account: 'staging', profile: 'ReadOnly', durationMinutes: 60, reason: 'work' });
  await provisionRequest(h.deps, r.id);
  const active = (await h.requests.get(r.id))!;
  await holdLease(h, active.grantKey!, 'the-sweeper');
  const { grants, attempts } = countingAcquires(h.grants);
  status = 200;
  const job: SlackJob = { id: 'cmd:13345224609.738474920.8088930838d', slackUserId: 'U0ALICE', principalArn: ARN.alice, responseUrl: RESPONSE_URL, work: { kind: 'command', command: { kind: 'revoke', requestId: r.id } } };
  const slack = worker.slack!;

  // The harness allows 400 attempts (for its races); the job's own budget must win.
  const outcome = await runSlackJob({ deps: { ...h.deps, grants }, slack: slack.api, jobs: store }, job);

  expect(attempts()).toBe(INTERACTIVE_LEASE_ATTEMPTS);
  expect(outcome).toEqual({ status: 'done', replied: true, text: `Not done: Request ${r.id} is not revoked: another change to its grant ${active.grantKey} is in progress. Repeat the revoke in a few seconds.` });
  expect(await h.requests.get(r.id)).toMatchObject({ status: 'ACTIVE', version: active.version });
});

describe('what the Slack function writes is not taken at its word', () => {
  // The Slack function may write only items under SLACKJOB# (serverless.yml); these are what a subverted one could write there.
  const forge = async (item: Record<string, unknown>): Promise<DynamoDBRecord> => {
    await h.requests.doc.send(new PutCommand({ TableName: h.tableName, Item: item }));
    const image = (await allRawItems(h)).find((i) => i.pk?.S === item.pk && i.sk?.S === item.sk);
    return { eventName: 'INSERT', dynamodb: { NewImage: image as never, SequenceNumber: '5100' } };
  };
  const jobItemOf = (job: SlackJob) => ({ pk: `SLACKJOB#${job.id}`, sk: '#JOB', type: 'slack-job', job: JSON.stringify(job) });

  it.each([
    ['a linked Slack user', 'U0ALICE'],
    ['a Slack user linked to nobody', 'U0NOBODY'],
  ])('refuses a job whose principal is not the one %s is linked to, and changes nothing', async (_what, slackUserId) => {
    status = 200;
    const request = await createRequest(h.deps, { arn: ARN.alice, via: 'api' }, { account: 'production', profile: 'ReadOnly', durationMinutes: 60, reason: 'x' });
    const job: SlackJob = { id: 'approve:forged', slackUserId, principalArn: ARN.leadAnna, responseUrl: RESPONSE_URL, work: { kind: 'approve', requestId: request.id } };

    const result = await handleStream(worker, { Records: [await forge(jobItemOf(job))] }, plentyOfTime);

    expect(result.batchItemFailures).toEqual([]);
    expect(await h.requests.get(request.id)).toMatchObject({ status: 'PENDING', version: request.version, approvals: [] });
    expect(posts.map((p) => JSON.parse(p.body).text)).toEqual([
      `Not done: Your Slack user (${slackUserId}) is not linked to ${ARN.leadAnna} in rolegate's configuration (slack.users), so rolegate did not act for it.`,
    ]);
    expect(h.logger.lines).toContainEqual({ level: 'error', message: 'slack job names a principal its Slack user is not linked to; refused', fields: { jobId: 'approve:forged', slackUserId } });
    // The refusal's line names no caller: the job's own claim (lead-anna) is what was forged.
    expect(h.logger.lines.filter((l) => l.message === 'slack job refused').map((l) => l.fields)).toEqual([
      { jobId: 'approve:forged', kind: 'approve', requestId: request.id, code: 'FORBIDDEN', slackUserId },
    ]);
  });

  it('acts for the principal the job’s Slack user is linked to', async () => {
    status = 200;
    const request = await createRequest(h.deps, { arn: ARN.alice, via: 'api' }, { account: 'production', profile: 'ReadOnly', durationMinutes: 60, reason: 'x' });
    const job: SlackJob = { id: 'approve:genuine', slackUserId: 'U0LEADANNA', principalArn: ARN.leadAnna, responseUrl: RESPONSE_URL, work: { kind: 'approve', requestId: request.id } };

    await handleStream(worker, { Records: [await forge(jobItemOf(job))] }, plentyOfTime);

    expect(await h.requests.get(request.id)).toMatchObject({ status: 'APPROVED', approvals: [ARN.leadAnna] });
  });

  it('sends no notification for an audit event written under a Slack job key, though the same event under its request is sent', async () => {
    const request = await createRequest(h.deps, { arn: ARN.alice, via: 'api' }, { account: 'production', profile: 'ReadOnly', durationMinutes: 60, reason: 'x' });
    const event = { type: 'event', id: '01KJNWP2NA4Z6K8N0Q5R7S9T1V', requestId: request.id, at: '2026-03-02T09:00:00.000Z', actor: ARN.leadAnna, action: 'APPROVED', notify: 'request.approved', comment: 'looks fine' };
    const forged = await forge({ ...event, pk: 'SLACKJOB#evil', sk: '#JOB' });
    const real = await forge({ ...event, pk: `REQ#${request.id}`, sk: `EVENT#${event.at}#${event.id}` });

    await handleStream(worker, { Records: [forged] }, plentyOfTime);
    expect(h.notifier.sent).toEqual([]);
    expect(h.logger.lines).toContainEqual({ level: 'warn', message: 'stream record of no kind the worker handles; ignored', fields: { type: 'event', pk: 'SLACKJOB' } });

    await handleStream(worker, { Records: [real] }, plentyOfTime);
    expect(h.notifier.sent.map((n) => [n.kind, n.actor, n.comment])).toEqual([['request.approved', ARN.leadAnna, 'looks fine']]);
  });
});
