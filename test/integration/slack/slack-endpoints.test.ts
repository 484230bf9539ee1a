import { DynamoSlackStore, type SlackJob } from '../../../src/adapters/dynamodb/slack-store';
import type { SlackApi } from '../../../src/adapters/slack/slack-client';
import type { ModalView, SlackReply } from '../../../src/adapters/slack/blocks';
import { signSlackRequest } from '../../../src/adapters/slack/signature';
import { ProvisioningError } from '../../../src/domain/errors';
import { createRequest } from '../../../src/domain/use-cases/createRequest';
import { provisionRequest } from '../../../src/domain/use-cases/provisionRequest';
import { revokeRequest } from '../../../src/domain/use-cases/endAccess';
import { slackApp } from '../../../src/handlers/slack/app';
import { runSlackJob } from '../../../src/handlers/slack/run-job';
import type { HttpEvent } from '../../../src/handlers/http/types';
import { harness, type Harness } from '../../helpers/harness';
import { ARN, settingsWith } from '../../helpers/settings';
import type { RecordingProvisioner } from '../../helpers/recording-provisioner';
import { allItems } from '../../helpers/table';
import { blockActionsPayload, interactionBody, slashCommandBody } from '../../unit/slack/fixtures';

const SECRET = '8f742231b10e8888abcd99yyyzzz85a5';

/** Records what rolegate sends to Slack; no network. */
class RecordingSlack implements SlackApi {
  readonly replies: { url: string; reply: SlackReply }[] = [];
  readonly views: { triggerId: string; view: ModalView }[] = [];
  async postMessage() {
    return { channel: 'C0APPROVERS', ts: '1.1' };
  }
  async updateMessage(ref: { channel: string; ts: string }) {
    return ref;
  }
  async openView(triggerId: string, view: ModalView) {
    this.views.push({ triggerId, view });
    return { viewId: 'V1' };
  }
  async openDirectMessage() {
    return 'D1';
  }
  async postToResponseUrl(url: string, reply: SlackReply) {
    this.replies.push({ url, reply });
  }
}

const SSO_PATH = '/aws-reserved/sso.amazonaws.com/eu-west-1/';
const DEVELOPER = 'AWSReservedSSO_Developer_0a1b2c3d4e5f6a7b';
const LEAD = 'AWSReservedSSO_Lead_9f8e7d6c5b4a3f2e';
const sso = (role: string, user: string) => `arn:aws:sts::111111111111:assumed-role/${role}/${user}`;

/** A deny form's submission as Slack posts it: the user, the view, what the form carried and the typed reason. */
function denySubmission(userId: string, viewId: string, privateMetadata: string, reason: string, callbackId = 'rolegate_deny_reason') {
  return {
    type: 'view_submission',
    team: { id: 'T0001ABCD' },
    user: { id: userId, team_id: 'T0001ABCD' },
    view: {
      id: viewId,
      callback_id: callbackId,
      private_metadata: privateMetadata,
      state: { values: { rolegate_deny_reason_block: { rolegate_deny_reason_input: { type: 'plain_text_input', value: reason } } } },
    },
  };
}

describe('Slack endpoints (signed payloads, real DynamoDB)', () => {
  let h: Harness;
  let slack: RecordingSlack;
  let app: ReturnType<typeof slackApp>;
  let jobs: Promise<unknown>[];
  const now = new Date('2026-03-02T09:00:00.000Z');
  const ts = Math.floor(now.getTime() / 1000);

  beforeEach(async () => {
    const settings = settingsWith((d) => {
      d.slack = {
        users: { U0ALICE: ARN.alice, U0LEADANNA: ARN.leadAnna, U0LEADBEN: ARN.leadBen, U0ALICESSO: sso(DEVELOPER, 'Alice@Example.com'), U0ALICELEAD: sso(LEAD, 'alice@example.com'), U0ANNASSO: sso(LEAD, 'anna@example.com') },
        signingSecretParameter: '/rolegate/slack/signing-secret',
      };
      // Identity Center users, mapped to their sessions: personal grants and one person's own requests refused, through Slack too.
      d.rolePaths = [{ roleName: 'AWSReservedSSO_*', path: SSO_PATH }];
      (d.provisioner as Record<string, unknown>).personalGrants = true;
      (d.rules as unknown[]).push({
        id: 'sso-production-read',
        requesters: [`arn:aws:iam::111111111111:role${SSO_PATH}${DEVELOPER}`],
        accounts: ['production'],
        profiles: ['ReadOnly'],
        maxDurationMinutes: 240,
        approvers: [`arn:aws:iam::111111111111:role${SSO_PATH}${LEAD}`],
      });
    });
    h = await harness({ settings });
    slack = new RecordingSlack();
    jobs = [];
    const store = new DynamoSlackStore(h.requests.doc, h.tableName, () => now);
    app = slackApp({
      settings,
      slack,
      store,
      signingSecret: async () => SECRET,
      logger: h.logger,
      metrics: h.metrics,
      now: () => now,
      runInProcess: (job: SlackJob) => jobs.push(runSlackJob({ deps: h.deps, slack, jobs: store }, job)),
    });
  });
  afterEach(async () => {
    await h.close();
  });

  function event(path: string, body: string, headers: Record<string, string> = {}, base64 = false): HttpEvent {
    return {
      version: '2.0',
      routeKey: `POST ${path}`,
      rawPath: path,
      rawQueryString: '',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': String(ts), 'x-slack-signature': signSlackRequest(SECRET, ts, body), ...headers },
      requestContext: { requestId: 'r1', routeKey: `POST ${path}`, http: { method: 'POST', path, sourceIp: '198.51.100.9' } },
      body: base64 ? Buffer.from(body).toString('base64') : body,
      isBase64Encoded: base64,
    } as unknown as HttpEvent;
  }
  const settle = async () => {
    await Promise.all(jobs);
  };

  it('acknowledges a slash command at once and creates the request through the same use-case', async () => {
    const body = slashCommandBody('request production ReadOnly 90m Investigating INC-42', { user_id: 'U0ALICE' });
    const res = await app(event('/slack/commands', body, {}, true));
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ response_type: 'ephemeral', text: 'Working on it…' });
    await settle();
    const [reply] = slack.replies;
    expect(reply!.reply.text).toMatch(/^Requested `[0-9A-Z]{26}`: waiting for 1 approval\(s\)/);
    const mine = await h.requests.list({ requester: ARN.alice, limit: 10 });
    expect(mine.items).toHaveLength(1);
    expect(mine.items[0]).toMatchObject({ profile: 'ReadOnly', durationMinutes: 90, reason: 'Investigating INC-42', requester: ARN.alice });
  });

  it('acts for a Slack user mapped to an Identity Center session as that person: a personal grant, and their own request refused to them', async () => {
    await app(event('/slack/commands', slashCommandBody('request production ReadOnly 90m Investigating INC-42', { user_id: 'U0ALICESSO', trigger_id: '1.1.request' })));
    await settle();
    const developer = `arn:aws:iam::111111111111:role${SSO_PATH}${DEVELOPER}`;
    const [made] = (await h.requests.list({ requester: developer, limit: 10 })).items;
    expect(made).toMatchObject({ requester: developer, principalArn: developer, requesterPerson: 'alice@example.com', principalSession: 'Alice@Example.com' });

    // Alice again, through the Lead set: her own request, refused as through the API.
    await app(event('/slack/commands', slashCommandBody(`approve ${made!.id}`, { user_id: 'U0ALICELEAD', trigger_id: '1.2.own' })));
    // One job at a time: two in flight would reply in whichever order they finish.
    await settle();
    await app(event('/slack/commands', slashCommandBody(`approve ${made!.id}`, { user_id: 'U0ANNASSO', trigger_id: '1.3.anna' })));
    await settle();
    expect(slack.replies.map((r) => r.reply.text)).toEqual([
      expect.stringMatching(/^Requested `[0-9A-Z]{26}`: waiting for 1 approval\(s\)/),
      'Not done: Nobody may decide on their own request: alice@example.com asked for it, signed in through another role.',
      `Approval of \`${made!.id}\` recorded: APPROVED (1 of 1).`,
    ]);
    expect((await h.requests.getDetail(made!.id))!.decisions.map((d) => [d.approver, d.person])).toEqual([[`arn:aws:iam::111111111111:role${SSO_PATH}${LEAD}`, 'anna@example.com']]);
  });

  it.each([
    ['a tampered body', (b: string) => event('/slack/commands', b.replace('ReadOnly', 'EC2Admin'), { 'x-slack-signature': signSlackRequest(SECRET, ts, b) }), 'invalid_signature'],
    ['a wrong secret', (b: string) => event('/slack/commands', b, { 'x-slack-signature': signSlackRequest('not-the-secret', ts, b) }), 'invalid_signature'],
    ['a stale timestamp', (b: string) => event('/slack/commands', b, { 'x-slack-request-timestamp': String(ts - 301), 'x-slack-signature': signSlackRequest(SECRET, ts - 301, b) }), 'stale_timestamp'],
    ['a future timestamp', (b: string) => event('/slack/commands', b, { 'x-slack-request-timestamp': String(ts + 301), 'x-slack-signature': signSlackRequest(SECRET, ts + 301, b) }), 'future_timestamp'],
    ['no signature header', (b: string) => event('/slack/commands', b, { 'x-slack-signature': '' }), 'missing_signature'],
  ])('refuses %s with 401, logs why (%s) and changes nothing', async (_what, make, reason) => {
    const before = await allItems(h);
    const body = slashCommandBody('request production ReadOnly 90m x', { user_id: 'U0ALICE' });
    const res = await app(make(body));
    expect(res.statusCode).toBe(401);
    expect(JSON.parse(res.body)).toEqual({ error: 'UNAUTHENTICATED', message: 'The request does not carry a valid Slack signature.' });
    // The body is the same for every reason; the log tells a rotated secret from a skewed clock.
    expect(h.logger.lines.filter((l) => l.message === 'request refused').at(-1)).toEqual({ level: 'info', message: 'request refused', fields: { code: 'UNAUTHENTICATED', status: 401, reason, correlationId: expect.any(String), sourceIp: '198.51.100.9' } });
    // Counted, so that a signing secret Slack does not sign with shows on a graph.
    expect(h.metrics.counts.get('SlackSignatureRefused')).toBe(1);
    await settle();
    expect(await allItems(h)).toEqual(before);
    expect(slack.replies).toEqual([]);
  });

  it('refuses a signed slash command whose trigger id cannot be a job key with a 400, and writes nothing', async () => {
    const before = await allItems(h);
    const res = await app(event('/slack/commands', slashCommandBody('list', { user_id: 'U0ALICE', trigger_id: '1'.repeat(3000) })));
    expect(res.statusCode).toBe(400);
    expect(JSON.parse(res.body)).toMatchObject({ error: 'VALIDATION_FAILED', details: [{ field: 'trigger_id', reason: 'has an unexpected format' }] });
    expect(h.metrics.counts.get('SlackSignatureRefused')).toBeUndefined();
    await settle();
    expect(await allItems(h)).toEqual(before);
    expect(slack.replies).toEqual([]);
  });

  it.each([
    ['a click whose trigger id cannot key a job', () => blockActionsPayload('rolegate_approve', '01M842PDWVB20RF19MB2AM66GP', { trigger_id: '1'.repeat(3000) }), 'payload.trigger_id'],
    [
      'a deny form without its view id',
      () => ({
        type: 'view_submission',
        user: { id: 'U0LEADANNA', team_id: 'T0001ABCD' },
        view: {
          callback_id: 'rolegate_deny_reason',
          private_metadata: '01M842PDWVB20RF19MB2AM66GP',
          state: { values: { rolegate_deny_reason_block: { rolegate_deny_reason_input: { type: 'plain_text_input', value: 'no' } } } },
        },
      }),
      'payload.view.id',
    ],
  ])('refuses %s with a 400 naming the field, and writes nothing', async (_what, payload, field) => {
    const before = await allItems(h);
    const res = await app(event('/slack/interactions', interactionBody(payload())));
    expect(res.statusCode).toBe(400);
    expect(JSON.parse(res.body)).toMatchObject({ error: 'VALIDATION_FAILED', details: [{ field }] });
    await settle();
    expect(await allItems(h)).toEqual(before);
    expect(slack.replies).toEqual([]);
  });

  it('tells an unmapped Slack user why they cannot act, and changes nothing', async () => {
    const before = await allItems(h);
    const res = await app(event('/slack/commands', slashCommandBody('list', { user_id: 'U0STRANGER' })));
    expect(JSON.parse(res.body).text).toContain('is not linked to an AWS identity');
    expect(await allItems(h)).toEqual(before);
  });

  it('answers an unlinked clicker 200 even when the reply cannot be posted (an expired response_url), and logs it', async () => {
    const request = await createRequest(h.deps, { arn: ARN.alice, via: 'api' }, { account: 'production', profile: 'EC2Admin', durationMinutes: 60, reason: 'x' });
    slack.postToResponseUrl = async () => {
      throw new Error('response_url: expired_url');
    };
    const before = await allItems(h);
    const res = await app(event('/slack/interactions', interactionBody(blockActionsPayload('rolegate_approve', request.id, { user: { id: 'U0STRANGER', team_id: 'T0001ABCD' } }))));
    expect(res.statusCode).toBe(200);
    expect(h.logger.lines).toContainEqual(expect.objectContaining({ level: 'warn', message: 'slack reply to an unlinked user failed', fields: expect.objectContaining({ slackUser: 'U0STRANGER', error: 'response_url: expired_url' }) }));
    expect(await allItems(h)).toEqual(before);
  });

  it('logs a deny form submitted by an unlinked user, which decides nothing', async () => {
    const request = await createRequest(h.deps, { arn: ARN.alice, via: 'api' }, { account: 'production', profile: 'EC2Admin', durationMinutes: 60, reason: 'x' });
    const before = await allItems(h);
    const submission = denySubmission('U0STRANGER', 'V0DENY9', JSON.stringify({ requestId: request.id, responseUrl: 'https://hooks.slack.com/actions/T0001ABCD/1/abc' }), 'Not now');
    expect((await app(event('/slack/interactions', interactionBody(submission)))).statusCode).toBe(200);
    expect(h.logger.lines).toContainEqual(
      expect.objectContaining({ level: 'warn', message: 'slack deny form submitted but not acted on', fields: expect.objectContaining({ slackUser: 'U0STRANGER', requestId: request.id, why: 'the user is not linked to an AWS identity' }) }),
    );
    expect(await allItems(h)).toEqual(before);
  });

  it('refuses self-approval by button with a friendly message, and logs who tried what, as the API logs a refusal', async () => {
    const request = await createRequest(h.deps, { arn: ARN.leadAnna, via: 'api' }, { account: 'production', profile: 'EC2Admin', durationMinutes: 60, reason: 'x' });
    const res = await app(event('/slack/interactions', interactionBody(blockActionsPayload('rolegate_approve', request.id))));
    expect(res.statusCode).toBe(200);
    await settle();
    expect(slack.replies.map((r) => r.reply.text)).toEqual(['Not done: Nobody may decide on their own request.']);
    expect((await h.requests.getDetail(request.id))!.decisions).toEqual([]);
    expect(h.logger.lines.filter((l) => l.message === 'slack job refused')).toEqual([
      { level: 'info', message: 'slack job refused', fields: { jobId: expect.any(String), kind: 'approve', requestId: request.id, code: 'FORBIDDEN', slackUserId: 'U0LEADANNA', caller: ARN.leadAnna } },
    ]);
  });

  it("refuses a button click by one who may not see the request in words that name nothing of it, and logs the cause", async () => {
    const request = await createRequest(h.deps, { arn: ARN.leadAnna, via: 'api' }, { account: 'production', profile: 'ReadOnly', durationMinutes: 60, reason: 'x' });
    const res = await app(event('/slack/interactions', interactionBody(blockActionsPayload('rolegate_approve', request.id, { user: { id: 'U0ALICE', team_id: 'T0001ABCD' } }))));
    expect(res.statusCode).toBe(200);
    await settle();
    // alice is neither its requester nor an approver of its rule: told how rolegate took her, not which rule it is.
    expect(slack.replies.map((r) => r.reply.text)).toEqual([`Not done: ${ARN.alice} is not an approver under this request's rule.`]);
    expect((await h.requests.getDetail(request.id))!.decisions).toEqual([]);
    expect(h.logger.lines.filter((l) => l.message === 'slack job refused').map((l) => l.fields)).toEqual([
      { jobId: expect.any(String), kind: 'approve', requestId: request.id, code: 'FORBIDDEN', reason: `${ARN.alice} may not see request ${request.id} (rule "production-read")`, slackUserId: 'U0ALICE', caller: ARN.alice },
    ]);
  });

  it('logs a refused command with its verb and the request it named', async () => {
    const request = await createRequest(h.deps, { arn: ARN.alice, via: 'api' }, { account: 'production', profile: 'ReadOnly', durationMinutes: 60, reason: 'x' });
    const res = await app(event('/slack/commands', slashCommandBody(`revoke ${request.id}`, { user_id: 'U0LEADBEN', trigger_id: '1.3.revoke' })));
    expect(res.statusCode).toBe(200);
    await settle();
    expect(h.logger.lines.filter((l) => l.message === 'slack job refused').map((l) => l.fields)).toEqual([
      expect.objectContaining({ kind: 'command revoke', requestId: request.id, slackUserId: 'U0LEADBEN', caller: ARN.leadBen }),
    ]);
  });

  it('records one decision for a double click (and for a replayed payload)', async () => {
    const request = await createRequest(h.deps, { arn: ARN.alice, via: 'api' }, { account: 'production', profile: 'EC2Admin', durationMinutes: 60, reason: 'x' });
    const click = event('/slack/interactions', interactionBody(blockActionsPayload('rolegate_approve', request.id)));
    const [a, b] = await Promise.all([app(click), app(click)]);
    expect([a.statusCode, b.statusCode]).toEqual([200, 200]);
    await settle();
    const detail = (await h.requests.getDetail(request.id))!;
    expect(detail.decisions.map((d) => [d.approver, d.via])).toEqual([[ARN.leadAnna, 'slack']]);
    // The trail names the Slack user who clicked (the signed payload's), as where the change came from.
    expect(detail.events.filter((e) => e.actor === ARN.leadAnna).map((e) => [e.action, e.source])).toEqual([['APPROVAL_RECORDED', { via: 'slack', slackUser: 'U0LEADANNA' }]]);
    expect(slack.replies.map((r) => r.reply.text)).toEqual([`Your approval of \`${request.id}\` is recorded (1 of 2).`]);
  });

  it('opens the deny-reason modal at once on Deny', async () => {
    const request = await createRequest(h.deps, { arn: ARN.alice, via: 'api' }, { account: 'production', profile: 'EC2Admin', durationMinutes: 60, reason: 'x' });
    const res = await app(event('/slack/interactions', interactionBody(blockActionsPayload('rolegate_deny', request.id))));
    expect(res.statusCode).toBe(200);
    expect(slack.views).toHaveLength(1);
    expect(slack.views[0]!.view.callback_id).toBe('rolegate_deny_reason');
  });

  it('denies through the form: the click opens it, the signed submission denies with the typed reason', async () => {
    const request = await createRequest(h.deps, { arn: ARN.alice, via: 'api' }, { account: 'production', profile: 'EC2Admin', durationMinutes: 60, reason: 'x' });
    await app(event('/slack/interactions', interactionBody(blockActionsPayload('rolegate_deny', request.id))));
    const opened = slack.views[0]!.view;
    const submission = denySubmission('U0LEADANNA', 'V0DENY1', opened.private_metadata, '  Use staging first.  ', opened.callback_id);

    const res = await app(event('/slack/interactions', interactionBody(submission)));
    expect(res.statusCode).toBe(200);
    await settle();

    expect((await h.requests.get(request.id))!).toMatchObject({ status: 'DENIED' });
    const detail = (await h.requests.getDetail(request.id))!;
    expect(detail.decisions.map((d) => [d.approver, d.decision, d.comment, d.via])).toEqual([[ARN.leadAnna, 'DENY', 'Use staging first.', 'slack']]);
    expect(detail.events.at(-1)).toMatchObject({ action: 'DENIED', actor: ARN.leadAnna, comment: 'Use staging first.' });
  });

  it('acts on a request by slash command: approve, deny with a reason, and cancel by its requester', async () => {
    const mk = () => createRequest(h.deps, { arn: ARN.alice, via: 'api' }, { account: 'production', profile: 'EC2Admin', durationMinutes: 60, reason: 'x' });
    const [approved, denied, cancelled] = [await mk(), await mk(), await mk()];
    const command = async (text: string, user: string, trigger: string) => {
      expect((await app(event('/slack/commands', slashCommandBody(text, { user_id: user, trigger_id: trigger })))).statusCode).toBe(200);
      await settle();
    };

    await command(`approve ${approved.id} looks fine`, 'U0LEADANNA', '1.1.a');
    await command(`deny ${denied.id} Not during the freeze`, 'U0LEADBEN', '1.1.b');
    await command(`cancel ${cancelled.id}`, 'U0ALICE', '1.1.c');

    expect((await h.requests.get(approved.id))!).toMatchObject({ status: 'PENDING', approvals: [ARN.leadAnna] });
    expect((await h.requests.getDetail(denied.id))!.decisions.map((d) => [d.approver, d.decision, d.comment])).toEqual([[ARN.leadBen, 'DENY', 'Not during the freeze']]);
    expect((await h.requests.get(denied.id))!.status).toBe('DENIED');
    expect((await h.requests.get(cancelled.id))!.status).toBe('CANCELLED');
    expect(slack.replies.map((r) => r.reply.text)).toEqual([`Approval of \`${approved.id}\` recorded: PENDING (1 of 2).`, `Denied \`${denied.id}\`.`, `Cancelled \`${cancelled.id}\`.`]);
  });

  it('offers the console link in status while access is live, never once it ended', async () => {
    const r = await createRequest(h.deps, { arn: ARN.alice, via: 'api' }, { account: 'staging', profile: 'ReadOnly', durationMinutes: 60, reason: 'x' });
    expect((await provisionRequest(h.deps, r.id)).outcome).toBe('active');
    const status = async (trigger: string) => {
      expect((await app(event('/slack/commands', slashCommandBody(`status ${r.id}`, { user_id: 'U0ALICE', trigger_id: trigger })))).statusCode).toBe(200);
      await settle();
      return slack.replies.at(-1)!.reply.text!;
    };
    expect(await status('2.2.a')).toMatch(/\nConsole: https:\/\/signin\.aws\.amazon\.com\/switchrole\?/);
    await revokeRequest(h.deps, { arn: ARN.alice, via: 'api' }, r.id, 'done');
    const ended = await status('2.2.b');
    expect(ended).toContain('REVOKED');
    expect(ended).not.toContain('Console:');
  });

  it('keeps the state when a notifier fails, and audits the failure', async () => {
    h.notifier.failure = new Error('slack is down');
    const res = await app(event('/slack/commands', slashCommandBody('request production ReadOnly 90m x', { user_id: 'U0ALICE' })));
    expect(res.statusCode).toBe(200);
    await settle();
    const [r] = (await h.requests.list({ requester: ARN.alice, limit: 1 })).items;
    expect(r!.status).toBe('PENDING');
    expect((await h.requests.getDetail(r!.id))!.events.map((e) => e.action)).toEqual(['REQUESTED', 'NOTIFICATION_FAILED']);
  });

  it('runs a click again after a failed one: each click is its own job, keyed by its trigger', async () => {
    const request = await createRequest(h.deps, { arn: ARN.alice, via: 'api' }, { account: 'production', profile: 'EC2Admin', durationMinutes: 60, reason: 'x' });
    const commit = h.deps.requests.commit.bind(h.deps.requests);
    let failures = 1;
    h.deps.requests.commit = async (write) => {
      if (failures-- > 0) throw new Error('connection reset');
      return commit(write);
    };
    await app(event('/slack/interactions', interactionBody(blockActionsPayload('rolegate_approve', request.id, { trigger_id: '111.222.first' }))));
    await settle();
    expect((await h.requests.getDetail(request.id))!.decisions).toEqual([]);
    // Our side's failure, as a 5xx would be over the API: logged and counted for its alarm.
    expect(h.metrics.counts.get('SlackJobFailed')).toBe(1);
    expect(h.logger.lines.filter((l) => l.message === 'slack job failed')).toEqual([
      { level: 'error', message: 'slack job failed', fields: { jobId: expect.any(String), kind: 'approve', error: 'connection reset' } },
    ]);

    await app(event('/slack/interactions', interactionBody(blockActionsPayload('rolegate_approve', request.id, { trigger_id: '111.222.second' }))));
    await settle();

    expect((await h.requests.getDetail(request.id))!.decisions.map((d) => d.approver)).toEqual([ARN.leadAnna]);
    expect(slack.replies.map((r) => r.reply.text)).toEqual([
      'Something went wrong on our side; nothing may have changed. Try again, or use the rolegate CLI.',
      `Your approval of \`${request.id}\` is recorded (1 of 2).`,
    ]);
    expect(h.metrics.counts.get('SlackJobFailed')).toBe(1);
  });

  it('logs and counts a Slack revoke IAM refuses, as the API would answer it 502, and not a refusal of the user', async () => {
    const request = await createRequest(h.deps, { arn: ARN.alice, via: 'api' }, { account: 'staging', profile: 'ReadOnly', durationMinutes: 60, reason: 'x' });
    await provisionRequest(h.deps, request.id);
    (h.deps.provisioner as RecordingProvisioner).failNext.push(new ProvisioningError('IAM refused DeleteRole', 'AccessDenied', false));
    await app(event('/slack/commands', slashCommandBody(`revoke ${request.id} done`, { user_id: 'U0ALICE' })));
    await settle();
    expect((await h.requests.get(request.id))!.status).toBe('ACTIVE');
    expect(h.metrics.counts.get('SlackJobFailed')).toBe(1);
    expect(h.logger.lines.filter((l) => l.message === 'slack job failed').map((l) => l.fields)).toEqual([
      { jobId: expect.any(String), kind: 'command', code: 'PROVISIONING_FAILED', error: 'IAM refused DeleteRole' },
    ]);
    // A refusal is the user's answer, not an alarm: revoking a request that has ended.
    await app(event('/slack/commands', slashCommandBody('revoke 01ARZ3NDEKTSV4RRFFQ69G5FAV', { user_id: 'U0ALICE', trigger_id: '333.444.second' })));
    await settle();
    expect(slack.replies.map((r) => r.reply.text)).toEqual(['Not done: IAM refused DeleteRole', 'Not done: Request 01ARZ3NDEKTSV4RRFFQ69G5FAV does not exist.']);
    expect(h.metrics.counts.get('SlackJobFailed')).toBe(1);
  });

  it('tells the clicker how else to deny when Slack refuses to open the deny form, and decides nothing', async () => {
    const request = await createRequest(h.deps, { arn: ARN.alice, via: 'api' }, { account: 'production', profile: 'EC2Admin', durationMinutes: 60, reason: 'x' });
    slack.openView = async () => {
      throw new Error('expired_trigger_id');
    };
    const before = await allItems(h);

    const res = await app(event('/slack/interactions', interactionBody(blockActionsPayload('rolegate_deny', request.id))));

    expect(res.statusCode).toBe(200);
    // Escaped for Slack's mrkdwn, which shows it as <reason>.
    expect(slack.replies.map((r) => r.reply.text)).toEqual([
      `The deny form could not be opened (Slack refused it; click Deny again, or use \`/access deny ${request.id} &lt;reason&gt;\`). Nothing was decided.`,
    ]);
    expect(await allItems(h)).toEqual(before);
    expect(h.logger.lines).toContainEqual({ level: 'warn', message: 'slack deny form did not open', fields: expect.objectContaining({ requestId: request.id, error: 'expired_trigger_id' }) });
  });

  describe('with slack.teamIds', () => {
    let guarded: ReturnType<typeof slackApp>;
    beforeEach(() => {
      const settings = settingsWith((d) => {
        d.slack = { users: { U0ALICE: ARN.alice, U0LEADANNA: ARN.leadAnna }, teamIds: ['T0001ABCD'] };
      });
      const store = new DynamoSlackStore(h.requests.doc, h.tableName, () => now);
      guarded = slackApp({
        settings,
        slack,
        store,
        signingSecret: async () => SECRET,
        logger: h.logger,
        now: () => now,
        runInProcess: (job: SlackJob) => jobs.push(runSlackJob({ deps: h.deps, slack, jobs: store }, job)),
      });
    });

    it('refuses a mapped user of another workspace, by command and by button, and writes nothing', async () => {
      const request = await createRequest(h.deps, { arn: ARN.alice, via: 'api' }, { account: 'production', profile: 'EC2Admin', durationMinutes: 60, reason: 'x' });
      const before = await allItems(h);

      const command = await guarded(event('/slack/commands', slashCommandBody('list', { user_id: 'U0ALICE', team_id: 'T0OTHER' })));
      const click = await guarded(
        event('/slack/interactions', interactionBody(blockActionsPayload('rolegate_approve', request.id, { team: { id: 'T0OTHER' }, user: { id: 'U0LEADANNA', team_id: 'T0OTHER' } }))),
      );
      await settle();

      expect(JSON.parse(command.body).text).toBe('This Slack workspace (T0OTHER) is not one rolegate accepts (slack.teamIds), so nobody can act from it.');
      expect(click.statusCode).toBe(200);
      expect(slack.replies.map((r) => r.reply.text)).toEqual(['This Slack workspace (T0OTHER) is not one rolegate accepts (slack.teamIds), so nobody can act from it.']);
      expect(await allItems(h)).toEqual(before);
    });

    it("with Enterprise Grid, takes a click whose user Slack names by the org's id once the org is listed, and only then", async () => {
      const request = await createRequest(h.deps, { arn: ARN.alice, via: 'api' }, { account: 'production', profile: 'ReadOnly', durationMinutes: 60, reason: 'x' });
      // As Slack sends it in an Enterprise Grid org: the user's team is the org (E…), the click's team the workspace.
      const click = () => guarded(event('/slack/interactions', interactionBody(blockActionsPayload('rolegate_approve', request.id, { team: { id: 'T0001ABCD', enterprise_id: 'E0ORG1234' }, user: { id: 'U0LEADANNA', team_id: 'E0ORG1234' } }))));
      await click();
      await settle();
      expect(slack.replies.map((r) => r.reply.text)).toEqual(['This Slack workspace (E0ORG1234) is not one rolegate accepts (slack.teamIds), so nobody can act from it.']);
      expect((await h.requests.get(request.id))!.status).toBe('PENDING');

      const settings = settingsWith((d) => {
        d.slack = { users: { U0ALICE: ARN.alice, U0LEADANNA: ARN.leadAnna }, teamIds: ['T0001ABCD', 'E0ORG1234'] };
      });
      const store = new DynamoSlackStore(h.requests.doc, h.tableName, () => now);
      guarded = slackApp({ settings, slack, store, signingSecret: async () => SECRET, logger: h.logger, now: () => now, runInProcess: (job: SlackJob) => jobs.push(runSlackJob({ deps: { ...h.deps, settings }, slack, jobs: store }, job)) });
      await click();
      await settle();
      expect((await h.requests.get(request.id))!).toMatchObject({ status: 'APPROVED', approvals: [ARN.leadAnna] });
    });

    it('lets the listed workspace act as before', async () => {
      const res = await guarded(event('/slack/commands', slashCommandBody('list', { user_id: 'U0ALICE' })));
      await settle();
      expect(JSON.parse(res.body).text).toBe('Working on it…');
      expect(slack.replies.map((r) => r.reply.text)).toEqual(['You have no requests.']);
    });
  });
});
