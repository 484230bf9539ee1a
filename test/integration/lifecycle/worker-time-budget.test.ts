import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import { DynamoSlackStore, SLACK_JOB_PK_PREFIX, SLACK_JOB_SK, type SlackJob } from '../../../src/adapters/dynamodb/slack-store';
import type { SlackApi } from '../../../src/adapters/slack/slack-client';
import type { Notification } from '../../../src/domain/ports';
import { createRequest } from '../../../src/domain/use-cases/createRequest';
import { decideRequest } from '../../../src/domain/use-cases/decideRequest';
import { provisionRequest } from '../../../src/domain/use-cases/provisionRequest';
import { revokeRequest } from '../../../src/domain/use-cases/endAccess';
import { handleStream, WORKER_RESERVE_MS, type WorkerApp } from '../../../src/handlers/worker';
import { ProvisioningError } from '../../../src/domain/errors';
import { harness, type Harness } from '../../helpers/harness';
import type { RecordingProvisioner } from '../../helpers/recording-provisioner';
import { ARN, settingsWith } from '../../helpers/settings';
import { allRawItems } from '../../helpers/table';

/*
 * The worker starts no work with WORKER_RESERVE_MS or less left in its
 * invocation: what it has not handled goes back to the stream as batch item
 * failures (retried, never lost) instead of dying with a timeout. The Lambda
 * context is a fake whose remaining time each unit of work spends.
 */

const api = (arn: string) => ({ arn, via: 'api' as const });
let h: Harness;
let remainingMs: number;
const context = { getRemainingTimeInMillis: () => remainingMs };
let store: DynamoSlackStore;
let replies: string[];
let app: WorkerApp;

beforeEach(async () => {
  h = await harness({ settings: settingsWith((d) => void (d.slack = { users: { U0ALICE: ARN.alice } })) });
  h.deps.notifications = 'stream';
  // Each notification costs what a slow webhook may (20 s).
  const notify = h.notifier.notify.bind(h.notifier);
  h.notifier.notify = async (n: Notification) => {
    remainingMs -= 20_000;
    return notify(n);
  };
  replies = [];
  // Each Slack job's reply costs 10 s.
  const slack = {
    postToResponseUrl: async (_url: string, reply: { text: string }) => {
      remainingMs -= 10_000;
      replies.push(reply.text);
    },
  } as unknown as SlackApi;
  store = new DynamoSlackStore(h.requests.doc, h.tableName, () => h.clock.now());
  app = { deps: h.deps, logger: h.logger, flushMetrics: () => undefined, slack: { api: slack, store, signingSecret: async () => 'unused' } };
});
afterEach(async () => {
  await h.close();
});

/** The given items as INSERT stream records, sequence numbers in the order given. */
function records(images: Record<string, AttributeValue>[]): DynamoDBRecord[] {
  return images.map((image, n) => ({ eventName: 'INSERT', dynamodb: { NewImage: image as never, SequenceNumber: `${7000 + n}` } }));
}

const eventImages = async () => (await allRawItems(h)).filter((i) => i.type?.S === 'event').sort((a, b) => (a.id!.S! < b.id!.S! ? -1 : 1));
const seq = (rs: DynamoDBRecord[]) => rs.map((r) => ({ itemIdentifier: r.dynamodb!.SequenceNumber! }));

it('stops starting notifications when time runs low, and sends the rest back in order; a retry sends each exactly once', async () => {
  const request = await createRequest(h.deps, api(ARN.alice), { account: 'production', profile: 'EC2Admin', durationMinutes: 60, reason: 'resize' });
  await decideRequest(h.deps, api(ARN.leadAnna), { requestId: request.id, decision: 'APPROVE' });
  await decideRequest(h.deps, api(ARN.sreSam), { requestId: request.id, decision: 'APPROVE' });
  await provisionRequest(h.deps, request.id);
  await revokeRequest(h.deps, api(ARN.leadAnna), request.id, 'done');
  const batch = records((await eventImages()).filter((i) => i.notify?.S));
  expect(batch).toHaveLength(5);
  remainingMs = 80_000;

  const result = await handleStream(app, { Records: batch }, context);

  // 80 s, 60 s and 40 s left: started; 20 s left is within the reserve.
  expect(h.notifier.sent.map((n) => n.kind)).toEqual(['request.created', 'request.approval_recorded', 'request.approved']);
  expect(result.batchItemFailures).toEqual(seq(batch.slice(3)));
  expect(h.logger.lines).toContainEqual({ level: 'warn', message: 'worker running out of time; notifications sent back to the stream', fields: { requestId: request.id, records: 2 } });

  remainingMs = 120_000;
  const retry = await handleStream(app, { Records: batch.slice(3) }, context);

  expect(retry.batchItemFailures).toEqual([]);
  const ids = h.notifier.sent.map((n) => n.id);
  expect(ids).toEqual(batch.map((r) => r.dynamodb!.NewImage!.id!.S));
});

it('stops starting records when time runs low, sending back the unhandled ones and the notifications not yet sent', async () => {
  const request = await createRequest(h.deps, api(ARN.alice), { account: 'production', profile: 'EC2Admin', durationMinutes: 60, reason: 'resize' });
  const job = (n: number): SlackJob => ({
    id: `cmd:trigger-${n}`,
    slackUserId: 'U0ALICE',
    principalArn: ARN.alice,
    responseUrl: `https://hooks.slack.com/commands/T0001ABCD/${n}/x`,
    createdAt: `2026-03-02T08:59:5${n}.000Z`,
    work: { kind: 'command', command: { kind: 'request', account: 'production', profile: 'ReadOnly', durationMinutes: 30, reason: `job ${n}` } },
  });
  await store.putJob(job(1));
  await store.putJob(job(2));
  const [created] = await eventImages();
  const jobs = (await allRawItems(h)).filter((i) => i.type?.S === 'slack-job').sort((a, b) => (a.pk!.S! < b.pk!.S! ? -1 : 1));
  // The request's notification, then the two jobs.
  const batch = records([created!, ...jobs]);
  remainingMs = WORKER_RESERVE_MS + 5_000;

  const result = await handleStream(app, { Records: batch }, context);

  // The first job ran (and spent 10 s); the second and the collected notification go back.
  expect(replies).toHaveLength(1);
  expect(h.notifier.sent).toEqual([]);
  expect(result.batchItemFailures).toEqual(seq([batch[0]!, batch[2]!]));
  const reasons = async () => (await h.requests.list({ requester: ARN.alice, limit: 10 })).items.map((r) => r.reason).sort();
  expect(await reasons()).toEqual(['job 1', 'resize']);

  // The stream re-sends from the lowest failed record: the first job too, which is already done.
  remainingMs = 120_000;
  const retry = await handleStream(app, { Records: batch }, context);

  expect(retry.batchItemFailures).toEqual([]);
  expect(await reasons()).toEqual(['job 1', 'job 2', 'resize']);
  expect(replies).toHaveLength(2);
  expect(h.notifier.sent.map((n) => [n.kind, n.request.id])).toEqual([['request.created', request.id]]);
});

it('sends back a record whose provisioning crashed, logs it with its request, counts it, and flushes its metrics under the invocation id', async () => {
  const request = await createRequest(h.deps, api(ARN.alice), { account: 'staging', profile: 'ReadOnly', durationMinutes: 60, reason: 'read' });
  const [image] = (await allRawItems(h)).filter((i) => i.type?.S === 'request');
  const real = h.requests.get.bind(h.requests);
  h.deps.requests = Object.assign(Object.create(h.requests), {
    get: async (id: string) => {
      if (id === request.id) throw new Error('ProvisionedThroughputExceededException');
      return real(id);
    },
  });
  const correlations: (Record<string, string> | undefined)[] = [];
  let flushed = 0;
  const logger = Object.assign(Object.create(h.logger), { setCorrelation: (fields: Record<string, string> | undefined) => void correlations.push(fields) });
  remainingMs = 120_000;
  const batch = records([image!]);

  const result = await handleStream({ ...app, logger, flushMetrics: () => void flushed++ }, { Records: batch }, { ...context, awsRequestId: 'lambda-req-1' });

  expect(result.batchItemFailures).toEqual(seq(batch));
  expect(h.logger.lines.filter((l) => l.level === 'error')).toEqual([
    { level: 'error', message: 'provisioning crashed; the record will be retried', fields: { requestId: request.id, error: 'ProvisionedThroughputExceededException' } },
  ]);
  expect(h.metrics.counts.get('WorkerRecordFailed')).toBe(1);
  expect(flushed).toBe(1);
  // Every line of the invocation carries Lambda's request id, and the next invocation starts clean.
  expect(correlations).toStrictEqual([{ awsRequestId: 'lambda-req-1' }, undefined]);
});

it('leaves to the sweeper, without sending it back, a request whose access IAM would not end (its end passed before it was provisioned)', async () => {
  const request = await createRequest(h.deps, api(ARN.alice), { account: 'staging', profile: 'ReadOnly', durationMinutes: 60, reason: 'read' });
  const [image] = (await allRawItems(h)).filter((i) => i.type?.S === 'request');
  expect(image!.status!.S).toBe('APPROVED');
  h.clock.advance(61 * 60_000);
  (h.deps.provisioner as RecordingProvisioner).failNext.push(new ProvisioningError('Rate exceeded', 'Throttling', true));
  remainingMs = 120_000;
  const batch = records([image!]);

  const result = await handleStream(app, { Records: batch }, context);

  // The stream would only run it again at once, and after a few tries put it among the dead letters its
  // alarm sends people to look for lost Slack jobs and notifications in: its due entry brings the sweeper to it.
  expect(result.batchItemFailures).toEqual([]);
  expect(h.logger.lines.filter((l) => l.level !== 'info')).toEqual([
    { level: 'warn', message: 'provisioning step failed; the sweeper takes it up again', fields: { requestId: request.id, awsCode: 'Throttling', error: 'Rate exceeded' } },
  ]);
  expect(h.metrics.counts.get('WorkerRecordFailed')).toBeUndefined();
  expect(await h.requests.get(request.id)).toMatchObject({ status: 'APPROVED', version: request.version });
});

it('sends back a Slack job record it cannot read, logs it by job id and counts it', async () => {
  // Cut short after a response_url, a credential: the parse error would quote it, the log must not.
  const batch = records([{ pk: { S: `${SLACK_JOB_PK_PREFIX}cmd:trigger-9` }, sk: { S: SLACK_JOB_SK }, type: { S: 'slack-job' }, job: { S: '{"responseUrl":"https://hooks.slack.com/commands/T1/2/secret-part" x' } }]);
  remainingMs = 120_000;

  const result = await handleStream(app, { Records: batch }, context);

  expect(result.batchItemFailures).toEqual(seq(batch));
  expect(h.logger.lines.filter((l) => l.level === 'error').map((l) => [l.message, l.fields.jobId, l.fields.error])).toEqual([
    ['slack job crashed; the record will be retried', 'cmd:trigger-9', 'SyntaxError: the job item is not valid JSON'],
  ]);
  expect(JSON.stringify(h.logger.lines)).not.toContain('secret-part');
  expect(h.metrics.counts.get('WorkerRecordFailed')).toBe(1);
});

it('flushes what an invocation counted even when it fails outright', async () => {
  let flushed = 0;
  await expect(handleStream({ ...app, flushMetrics: () => void flushed++ }, {} as never, context)).rejects.toThrow(TypeError);
  expect(flushed).toBe(1);
});
