import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { createRequest } from '../../../src/domain/use-cases/createRequest';
import { decideRequest } from '../../../src/domain/use-cases/decideRequest';
import { revokeRequest } from '../../../src/domain/use-cases/endAccess';
import { provisionRequest } from '../../../src/domain/use-cases/provisionRequest';
import { handleStream, type WorkerApp } from '../../../src/handlers/worker';
import { MemoryLogger } from '../../../src/adapters/logger';
import { composeApp, type InProcessWork } from '../../../src/compose';
import { readEnv } from '../../../src/environment';
import { IN_PROCESS } from '../../../src/local/in-process';
import { freshTable } from '../../helpers/dynamo';
import { harness, RecordingNotifier, type Harness } from '../../helpers/harness';
import { RecordingIdentityGranter, RecordingProvisioner } from '../../helpers/recording-provisioner';
import { ARN, exampleSettings, settingsWith } from '../../helpers/settings';
import { allRawItems } from '../../helpers/table';

/*
 * Deployed, a notification is written on the audit event of the change it
 * announces, in the same transaction, and the worker sends it from the
 * table's stream: nothing is sent in-line, so a crash after the commit or a
 * slow receiver loses nothing and holds up nobody. The stream records here
 * carry the items exactly as DynamoDB Local stored them (a NEW_IMAGE stream
 * record's image is the item's attribute-value map).
 */

const api = (arn: string) => ({ arn, via: 'api' as const });
let h: Harness;
let app: WorkerApp;

beforeEach(async () => {
  h = await harness({ provisioner: new RecordingProvisioner(), identity: new RecordingIdentityGranter() });
  h.deps.notifications = 'stream';
  app = { deps: h.deps, logger: h.logger, flushMetrics: () => undefined };
});
afterEach(async () => {
  await h.close();
});

/** The table's items as INSERT stream records, in the order they were written (audit event ids are ULIDs). */
async function insertsSince(seen: Set<string> = new Set()): Promise<DynamoDBRecord[]> {
  const items = await allRawItems(h);
  const key = (i: Record<string, AttributeValue>) => `${i.pk?.S}|${i.sk?.S}`;
  const fresh = items.filter((i) => !seen.has(key(i)) && i.type?.S === 'event').sort((a, b) => (a.id!.S! < b.id!.S! ? -1 : 1));
  fresh.forEach((i) => seen.add(key(i)));
  return fresh.map((image, n) => ({ eventName: 'INSERT', dynamodb: { NewImage: image as never, SequenceNumber: `${1000 + n}` } }));
}

const batch = (records: DynamoDBRecord[]): DynamoDBStreamEvent => ({ Records: records });
const plentyOfTime = { getRemainingTimeInMillis: () => 120_000 };

it('sends nothing in-line; the worker sends each change\'s notification from the stream, in order, with the audit event\'s id', async () => {
  const request = await createRequest(h.deps, api(ARN.alice), { account: 'production', profile: 'EC2Admin', durationMinutes: 60, reason: 'resize the fleet' });
  await decideRequest(h.deps, api(ARN.leadAnna), { requestId: request.id, decision: 'APPROVE', comment: 'ok for OPS-42' });
  await decideRequest(h.deps, api(ARN.sreSam), { requestId: request.id, decision: 'APPROVE' });
  await provisionRequest(h.deps, request.id);
  await revokeRequest(h.deps, api(ARN.leadAnna), request.id, 'done');
  expect(h.notifier.sent).toEqual([]);

  const records = await insertsSince();
  const result = await handleStream(app, batch(records), plentyOfTime);

  expect(result.batchItemFailures).toEqual([]);
  const events = (await h.requests.getDetail(request.id))!.events;
  const announced = events.filter((e) => e.notify);
  // ACCESS_REMOVED carries no notification; every other event of these changes does.
  expect(events.filter((e) => !e.notify).map((e) => e.action)).toEqual(['ACCESS_REMOVED']);
  expect(h.notifier.sent.map((n) => [n.id, n.kind, n.actor, n.comment, n.at])).toEqual([
    [announced[0]!.id, 'request.created', ARN.alice, undefined, announced[0]!.at],
    [announced[1]!.id, 'request.approval_recorded', ARN.leadAnna, 'ok for OPS-42', announced[1]!.at],
    [announced[2]!.id, 'request.approved', ARN.sreSam, undefined, announced[2]!.at],
    [announced[3]!.id, 'request.active', 'rolegate', undefined, announced[3]!.at],
    [announced[4]!.id, 'request.revoked', ARN.leadAnna, 'done', announced[4]!.at],
  ]);
  // Each carries the request as it is when sent.
  expect(h.notifier.sent.every((n) => n.request.id === request.id && n.request.status === 'REVOKED')).toBe(true);
});

it('an auto-approved request announces its approval once, not its creation too', async () => {
  const request = await createRequest(h.deps, api(ARN.alice), { account: 'staging', profile: 'ReadOnly', durationMinutes: 60, reason: 'logs' });
  await handleStream(app, batch(await insertsSince()), plentyOfTime);
  expect(h.notifier.sent.map((n) => [n.kind, n.actor, n.request.id])).toEqual([['request.approved', 'rolegate', request.id]]);
});

it('a failed delivery is audited and not sent back to the stream, so the receivers that had it do not get it twice', async () => {
  const request = await createRequest(h.deps, api(ARN.alice), { account: 'production', profile: 'ReadOnly', durationMinutes: 60, reason: 'x' });
  h.notifier.failure = new Error('slack: channel_not_found');

  const result = await handleStream(app, batch(await insertsSince()), plentyOfTime);

  expect(result.batchItemFailures).toEqual([]);
  const events = (await h.requests.getDetail(request.id))!.events;
  expect(events.map((e) => e.action)).toEqual(['REQUESTED', 'NOTIFICATION_FAILED']);
  // Why stays in the log: it may name webhook receivers, secret parameters or rolegate's roles, and the requester reads the event.
  expect(events[1]!.data).toEqual({ kind: 'request.created', reason: "not delivered (the log holds why, under this request's id)" });
  expect(h.logger.lines).toContainEqual(expect.objectContaining({ message: 'notification failed', fields: expect.objectContaining({ requestId: request.id, reason: 'slack: channel_not_found' }) }));
  // Counted too (NotificationFailed, alarmed): a bad bot token would otherwise keep every approver uninformed unnoticed.
  expect(h.metrics.counts.get('NotificationFailed')).toBe(1);
  // The NOTIFICATION_FAILED event announces nothing, so it cannot loop.
  h.notifier.failure = undefined;
  expect((await handleStream(app, batch(await insertsSince(new Set())), plentyOfTime)).batchItemFailures).toEqual([]);
  expect(h.notifier.sent.map((n) => n.kind)).toEqual(['request.created']);
  expect(h.metrics.counts.get('NotificationFailed')).toBe(1);
});

it('when a request cannot be read, its notifications go back to the stream in order, and other requests\' are sent', async () => {
  const first = await createRequest(h.deps, api(ARN.alice), { account: 'production', profile: 'ReadOnly', durationMinutes: 60, reason: 'one' });
  const second = await createRequest(h.deps, api(ARN.bob), { account: 'production', profile: 'ReadOnly', durationMinutes: 60, reason: 'two' });
  await decideRequest(h.deps, api(ARN.leadAnna), { requestId: first.id, decision: 'DENY', comment: 'no' });
  const records = await insertsSince();
  const real = h.requests.get.bind(h.requests);
  h.deps.requests = Object.assign(Object.create(h.requests), {
    get: async (id: string) => {
      if (id === first.id) throw new Error('ProvisionedThroughputExceededException');
      return real(id);
    },
  });

  const result = await handleStream(app, batch(records), plentyOfTime);

  const ofFirst = records.filter((r) => r.dynamodb!.NewImage!.requestId!.S === first.id).map((r) => r.dynamodb!.SequenceNumber);
  expect(ofFirst).toHaveLength(2);
  expect(result.batchItemFailures.map((f) => f.itemIdentifier)).toEqual(ofFirst);
  expect(h.notifier.sent.map((n) => [n.kind, n.request.id])).toEqual([['request.created', second.id]]);
  expect(h.logger.lines.some((l) => l.message === 'notification crashed; the record will be retried' && l.fields.requestId === first.id)).toBe(true);
  // Counted once per record sent back after a crash (not per record in the request's queue): the dead-letter queue is where it ends.
  expect(h.metrics.counts.get('WorkerRecordFailed')).toBe(1);
});

it('ignores events that announce nothing and any record that is not a new event', async () => {
  const request = await createRequest(h.deps, api(ARN.alice), { account: 'production', profile: 'ReadOnly', durationMinutes: 60, reason: 'x' });
  const [created] = await insertsSince();
  const modified: DynamoDBRecord = { ...created!, eventName: 'MODIFY' };
  const withoutNotify: DynamoDBRecord = { eventName: 'INSERT', dynamodb: { NewImage: { ...created!.dynamodb!.NewImage!, notify: undefined as never }, SequenceNumber: '9' } };
  delete withoutNotify.dynamodb!.NewImage!.notify;

  expect((await handleStream(app, batch([modified, withoutNotify]), plentyOfTime)).batchItemFailures).toEqual([]);
  expect(h.notifier.sent).toEqual([]);
  expect((await h.requests.get(request.id))!.status).toBe('PENDING');
});

describe('the composition root decides who sends', () => {
  // The in-process work, which only the local run passes, decides; the environment is each one's own.
  it.each<[string, Record<string, string>, InProcessWork | undefined, number]>([
    ['a deployed function leaves notifications to the stream', { AWS_LAMBDA_FUNCTION_NAME: 'rolegate-dev-api' }, undefined, 0],
    ['the local run (its work in-process) sends them in-line', { ROLEGATE_LOCAL: 'true' }, IN_PROCESS, 1],
  ])('%s', async (_name, env, inProcess, sentInLine) => {
    const table = await freshTable();
    try {
      const notifier = new RecordingNotifier();
      const composed = composeApp({
        env: readEnv({ ...env, ROLEGATE_TABLE: table.tableName }),
        settings: exampleSettings(),
        ...(inProcess ? { inProcess } : {}),
        notifier,
        logger: new MemoryLogger(),
        dynamodb: table.client,
      });
      await createRequest(composed.deps, api(ARN.alice), { account: 'production', profile: 'ReadOnly', durationMinutes: 60, reason: 'x' });
      expect(composed.deps.notifications).toBe(sentInLine ? 'inline' : 'stream');
      expect(notifier.sent).toHaveLength(sentInLine);
    } finally {
      await table.drop();
    }
  });
});

it('delivers through the Slack and webhook notifiers it loads at the first notification (the local run, in-line)', async () => {
  const received: { event?: string; body: string }[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      received.push({ event: req.headers['x-rolegate-event'] as string | undefined, body });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  // Slack's Web API answered in the process (no network): the Slack client calls the global fetch.
  const toSlack: { method: string; token: string | null; body: Record<string, unknown> }[] = [];
  const realFetch = globalThis.fetch;
  const fetchSpy = jest.spyOn(globalThis, 'fetch').mockImplementation(async (input, init) => {
    const url = String(input);
    // The webhook server below, on loopback; nothing else leaves the process.
    if (url.startsWith('http://127.0.0.1:')) return realFetch(input, init);
    if (!url.startsWith('https://slack.com/api/')) throw new Error(`the test lets no request reach ${url}`);
    toSlack.push({ method: url.slice('https://slack.com/api/'.length), token: new Headers(init?.headers).get('authorization'), body: JSON.parse(String(init?.body)) });
    return new Response(JSON.stringify({ ok: true, channel: 'C0APPROVERS', ts: '1767268800.000100' }), { status: 200, headers: { 'content-type': 'application/json' } });
  });
  const table = await freshTable();
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    const composed = composeApp({
      env: readEnv({
        ROLEGATE_LOCAL: 'true',
        ROLEGATE_TABLE: table.tableName,
        ROLEGATE_LOCAL_SECRETS: JSON.stringify({ '/rolegate/webhooks/ops': 'k', '/rolegate/slack/signing-secret': 's', '/rolegate/slack/bot-token': 'xoxb-local' }),
      }),
      settings: settingsWith((doc) => {
        doc.webhooks = [{ url, secretParameter: '/rolegate/webhooks/ops', events: ['request.created'] }];
        doc.slack = { users: {} };
        for (const rule of doc.rules as Record<string, unknown>[]) if (rule.id === 'production-read') rule.slackChannel = 'C0APPROVERS';
      }),
      inProcess: IN_PROCESS,
      logger: new MemoryLogger(),
      dynamodb: table.client,
    });
    const request = await createRequest(composed.deps, api(ARN.alice), { account: 'production', profile: 'ReadOnly', durationMinutes: 60, reason: 'x' });
    expect(received.map((r) => [r.event, JSON.parse(r.body).request.id])).toEqual([['request.created', request.id]]);
    expect(toSlack.map((c) => [c.method, c.token, c.body.channel])).toEqual([['chat.postMessage', 'Bearer xoxb-local', 'C0APPROVERS']]);
    expect(JSON.stringify(toSlack[0]!.body.blocks)).toContain(request.id);
  } finally {
    fetchSpy.mockRestore();
    await table.drop();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});
