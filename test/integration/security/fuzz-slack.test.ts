import fc from 'fast-check';
import { DynamoSlackStore } from '../../../src/adapters/dynamodb/slack-store';
import { APPROVE_ACTION_ID, DENY_ACTION_ID, DENY_REASON_ACTION_ID, DENY_REASON_BLOCK_ID, DENY_REASON_CALLBACK_ID, OPEN_CONSOLE_ACTION_ID } from '../../../src/adapters/slack/constants';
import { signSlackRequest } from '../../../src/adapters/slack/signature';
import { slackApp } from '../../../src/handlers/slack/app';
import type { HttpEvent } from '../../../src/handlers/http/types';
import { harness, type Harness } from '../../helpers/harness';
import { ARN, settingsWith } from '../../helpers/settings';
import { allItems } from '../../helpers/table';
import { blockActionsPayload, interactionBody, REQUEST_ID } from '../../unit/slack/fixtures';
import { fuzzRuns } from '../../helpers/fuzz-runs';

/*
 * Property: any body to either Slack endpoint, signed or not, gets a
 * non-5xx answer with a stable code on refusal, and the only thing a signed
 * valid command may write is its job.
 */

const RUNS = fuzzRuns('ROLEGATE_FUZZ_SLACK_RUNS', 3000);
const SECRET = 'fuzz-signing-secret-0123456789';
const hostile = fc.oneof(fc.string({ maxLength: 60 }), fc.string({ unit: 'binary', maxLength: 40 }), fc.constantFrom('<!channel>', '&amp;', '%', '\u0000', 'a'.repeat(3000), '{"type":"block_actions"}', 'payload=%7B', 'approve 01J0000000000000000000000Z'));
const form = fc.dictionary(fc.constantFrom('user_id', 'team_id', 'command', 'text', 'response_url', 'trigger_id', 'channel_id', 'payload', 'token'), hostile).map((d) => new URLSearchParams(d).toString());
const commandForm = fc.record({ text: hostile, user_id: fc.constantFrom('U0ALICE', 'U0NOBODY', 'x') }).map(
  ({ text, user_id }) => new URLSearchParams({ user_id, team_id: 'T0001', command: '/access', text, response_url: 'https://hooks.slack.com/commands/T/1/x', trigger_id: `t.${text.length}`, channel_id: 'C0001' }).toString(),
);

/** Nearly valid interactions: a click on Approve, Deny or the console link, or a deny reason submitted, with hostile parts. */
const requestIdish = fc.oneof(fc.constant(REQUEST_ID), fc.stringMatching(/^[0-7][0-9A-HJKMNP-TV-Z]{25}$/), hostile);
const slackUser = fc.constantFrom('U0ALICE', 'U0LEADANNA', 'U0NOBODY', 'x', '');
const hostileParts = fc.option(
  fc.dictionary(fc.constantFrom('actions', 'user', 'team', 'type', 'response_url', 'trigger_id', 'container', 'view', 'state'), fc.oneof(hostile, fc.constant(null), fc.constant([]), fc.integer(), fc.constant({}))),
  { nil: undefined, freq: 2 },
);
/** Slack keys a job by its trigger (a click's trigger_id, a submission's view): each case its own. */
const trigger = fc.integer({ min: 1, max: 2 ** 31 }).map(String);
const click = fc
  .record({ actionId: fc.constantFrom(APPROVE_ACTION_ID, DENY_ACTION_ID, OPEN_CONSOLE_ACTION_ID, 'rolegate_other', ''), value: requestIdish, user: slackUser, trigger, broken: hostileParts })
  .map(({ actionId, value, user, trigger: t, broken }) => interactionBody(blockActionsPayload(actionId, value, { user: { id: user, team_id: 'T0001ABCD' }, trigger_id: `${t}.1.x`, ...(broken ?? {}) })));
const denyReason = fc
  .record({
    user: slackUser,
    reason: fc.oneof(fc.constant('not during the freeze'), hostile),
    metadata: fc.oneof(fc.constant(JSON.stringify({ requestId: REQUEST_ID, responseUrl: 'https://hooks.slack.com/actions/T0001ABCD/1/abc', channelId: 'C0APPROVERS', messageTs: '1767261600.000100' })), hostile),
    callbackId: fc.constantFrom(DENY_REASON_CALLBACK_ID, 'rolegate_other'),
    trigger,
    broken: hostileParts,
  })
  .map(({ user, reason, metadata, callbackId, trigger: t, broken }) =>
    interactionBody({
      type: 'view_submission',
      team: { id: 'T0001ABCD' },
      user: { id: user, team_id: 'T0001ABCD' },
      view: { id: `V${t}`, callback_id: callbackId, private_metadata: metadata, state: { values: { [DENY_REASON_BLOCK_ID]: { [DENY_REASON_ACTION_ID]: { type: 'plain_text_input', value: reason } } } } },
      ...(broken ?? {}),
    }),
  );

describe('fuzzing the Slack endpoints', () => {
  let h: Harness;
  beforeAll(async () => {
    const settings = settingsWith((d) => {
      d.slack = { users: { U0ALICE: ARN.alice, U0LEADANNA: ARN.leadAnna } };
    });
    h = await harness({ settings });
  });
  afterAll(async () => {
    await h.close();
  });

  it(`answers ${RUNS} signed and unsigned hostile payloads without a 5xx`, async () => {
    const noop = async () => undefined;
    // Every job written, counted per case: a refused request (4xx) must write none.
    const real = new DynamoSlackStore(h.requests.doc, h.tableName);
    let jobsThisCase = 0;
    let jobsWritten = 0;
    const store = Object.assign(Object.create(real) as DynamoSlackStore, {
      putJob: async (...args: Parameters<DynamoSlackStore['putJob']>) => {
        jobsThisCase++;
        jobsWritten++;
        return real.putJob(...args);
      },
    });
    const app = slackApp({
      settings: h.deps.settings,
      slack: { postMessage: async () => ({ channel: 'C', ts: '1' }), updateMessage: async (r) => r, openView: async () => ({ viewId: 'V' }), openDirectMessage: async () => 'D', postToResponseUrl: noop },
      store,
      signingSecret: async () => SECRET,
      logger: h.logger,
      now: () => new Date('2026-03-02T09:00:00.000Z'),
    });
    const ts = 1772442000;
    const statuses = new Map<number, number>();
    let signedAccepted = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          { arbitrary: fc.tuple(fc.constantFrom('/slack/commands', '/slack/interactions', '/slack/other'), fc.oneof(form, commandForm, hostile)), weight: 2 },
          { arbitrary: fc.tuple(fc.constant('/slack/interactions'), fc.oneof(click, denyReason)), weight: 1 },
        ),
        fc.boolean(),
        async ([path, body], signed) => {
        const event = {
          rawPath: path,
          headers: { 'x-slack-request-timestamp': String(ts), 'x-slack-signature': signed ? signSlackRequest(SECRET, ts, body) : 'v0=00' },
          requestContext: { requestId: 'fuzz', http: { method: 'POST', path } },
          body,
          isBase64Encoded: false,
        } as unknown as HttpEvent;
        jobsThisCase = 0;
        const res = await app(event);
        statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
        if (res.statusCode >= 400) expect(jobsThisCase).toBe(0);
        expect(res.statusCode).toBeLessThan(500);
        if (!signed) expect(res.statusCode).toBe(401);
        if (signed && res.statusCode === 200) signedAccepted++;
        if (res.statusCode >= 400) expect(['UNAUTHENTICATED', 'VALIDATION_FAILED', 'ROUTE_NOT_FOUND', 'PAYLOAD_TOO_LARGE']).toContain(JSON.parse(res.body).error);
        },
      ),
      { numRuns: RUNS, seed: 20261123 },
    );
    const items = await allItems(h);
    expect(items.filter((i) => i.type !== 'slack-job')).toEqual([]);
    // A positive control: signed requests were taken, and some became jobs (a verifier refusing everything would pass the rest).
    expect(signedAccepted).toBeGreaterThan(0);
    expect(items.length).toBeGreaterThan(0);
    expect(items.length).toBeLessThanOrEqual(signedAccepted);
    // Each job item is one the store was asked to write (a resent action writes its job again, in place).
    expect(items.length).toBeLessThanOrEqual(jobsWritten);
    // Only the Slack users the configuration maps get work done; clicks and deny reasons became work too (a positive control for them).
    const jobs = items.map((i) => JSON.parse(i.job as string) as { slackUserId: string; work: { kind: string } });
    expect(new Set(jobs.map((j) => j.slackUserId))).toEqual(new Set(['U0ALICE', 'U0LEADANNA']));
    expect(new Set(jobs.map((j) => j.work.kind))).toEqual(new Set(['command', 'approve', 'deny']));
    if (process.env.ROLEGATE_FUZZ_REPORT) console.log(`slack fuzz: ${RUNS} cases, statuses ${JSON.stringify(Object.fromEntries(statuses))}`);
  }, 300_000);
});
