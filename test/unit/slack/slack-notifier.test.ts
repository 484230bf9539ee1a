import { approvalMessage, accessReadyMessage, accessSummary, statusMessage } from '../../../src/adapters/slack/blocks';
import { SlackApiError, SlackClient } from '../../../src/adapters/slack/slack-client';
import { InMemorySlackMessageStore, SlackNotifier, slackUserIndex } from '../../../src/adapters/slack/slack-notifier';
import type { AccessRequest } from '../../../src/domain/model';
import type { Notification, NotificationKind } from '../../../src/domain/ports';
import { parsePrincipalArn } from '../../../src/domain/principal';
import { ARN, settingsWith } from '../../helpers/settings';
import { activeRequest, pendingRequest, REQUEST_ID } from './fixtures';
import { fakeSlack } from './fake-slack';

const settings = settingsWith((doc) => {
  const rules = doc.rules as { id: string; slackChannel?: string }[];
  rules.find((r) => r.id === 'production-read')!.slackChannel = 'C0APPROVERS';
  // Mapped with another case and a path: still the same IAM user.
  doc.slack = { users: { U0ALICE: 'arn:aws:iam::111111111111:user/people/Alice', U0LEADANNA: ARN.leadAnna } };
});
const slackUserOf = (arn: string) => (arn === ARN.alice ? 'U0ALICE' : arn === ARN.leadAnna ? 'U0LEADANNA' : undefined);
const summary = accessSummary(settings.profiles.find((p) => p.name === 'ReadOnly')!, parsePrincipalArn(ARN.alice));
const AT = '2026-01-01T10:00:00.000Z';

function note(kind: NotificationKind, request: AccessRequest, actor: string = ARN.alice, comment?: string): Notification {
  return { kind, request, actor, at: AT, ...(comment ? { comment } : {}) };
}

function setup(override?: Parameters<typeof fakeSlack>[0]) {
  const slack = fakeSlack(override);
  const messages = new InMemorySlackMessageStore();
  const notifier = new SlackNotifier({ slack: new SlackClient({ token: 'xoxb-test', fetch: slack.fetch }), settings, messages });
  const sent = () => slack.calls.map((c) => ({ api: c.url.replace('https://slack.com/api/', ''), body: c.body }));
  return { slack, messages, notifier, sent };
}

describe('SlackNotifier', () => {
  it("posts the approval message in the rule's channel and remembers it", async () => {
    const { notifier, messages, sent } = setup();
    const request = pendingRequest();

    await notifier.notify(note('request.created', request));

    const expected = approvalMessage(request, summary, { slackUserOf });
    expect(sent()).toEqual([
      { api: 'chat.postMessage', body: { channel: 'C0APPROVERS', text: expected.text, blocks: expected.blocks, unfurl_links: false, unfurl_media: false } },
    ]);
    expect(await messages.get(REQUEST_ID)).toEqual({ channel: 'C0APPROVERS', ts: '1767261600.000100', version: 1 });
  });

  it('posts a request announced only after it moved on (cancelled) as it stands, without buttons', async () => {
    const { notifier, sent } = setup();
    const cancelled = pendingRequest({ status: 'CANCELLED', version: 2, endedAt: AT });

    await notifier.notify(note('request.created', cancelled));

    const expected = statusMessage(cancelled, { slackUserOf, actor: ARN.alice });
    expect(sent()).toEqual([{ api: 'chat.postMessage', body: { channel: 'C0APPROVERS', text: expected.text, blocks: expected.blocks, unfurl_links: false, unfurl_media: false } }]);
    expect(JSON.stringify(expected.blocks)).not.toContain('rolegate_approve');
  });

  it('updates the same message when the notification is delivered twice, never posting a second one', async () => {
    const { notifier, sent } = setup();
    await notifier.notify(note('request.created', pendingRequest()));
    await notifier.notify(note('request.created', pendingRequest()));
    expect(sent().map((c) => c.api)).toEqual(['chat.postMessage', 'chat.update']);
  });

  it('updates the message in place as the request moves on', async () => {
    const { notifier, sent } = setup();
    await notifier.notify(note('request.created', pendingRequest()));
    const approved = pendingRequest({ status: 'APPROVED', version: 2, approvals: [ARN.leadAnna], approvedAt: AT, endsAt: '2026-01-01T11:30:00.000Z' });

    await notifier.notify(note('request.approved', approved, ARN.leadAnna, 'go'));

    const expected = statusMessage(approved, { slackUserOf, actor: ARN.leadAnna, comment: 'go' });
    expect(sent()[1]).toEqual({ api: 'chat.update', body: { channel: 'C0APPROVERS', ts: '1767261600.000100', text: expected.text, blocks: expected.blocks } });
    expect(JSON.stringify(expected.blocks)).not.toContain('rolegate_approve');
  });

  it('keeps the buttons while more approvals are needed', async () => {
    const { notifier, sent } = setup();
    await notifier.notify(note('request.created', pendingRequest({ approvalsRequired: 2 })));
    await notifier.notify(note('request.approval_recorded', pendingRequest({ approvalsRequired: 2, approvals: [ARN.leadAnna], version: 2 }), ARN.leadAnna));
    const update = sent()[1]!;
    expect(update.api).toBe('chat.update');
    expect(JSON.stringify(update.body.blocks)).toContain('"action_id":"rolegate_approve"');
    expect(JSON.stringify(update.body.blocks)).toContain('(1 of 2) · Approved by <@U0LEADANNA>');
  });

  it('updates the message and sends the requester a direct message when access is active', async () => {
    const { notifier, sent } = setup();
    await notifier.notify(note('request.created', pendingRequest()));
    const active = activeRequest();

    await notifier.notify(note('request.active', active, 'rolegate'));

    const ready = accessReadyMessage(active);
    const status = statusMessage(active, { slackUserOf, actor: 'rolegate' });
    expect(sent().slice(1)).toEqual(
      expect.arrayContaining([
        { api: 'chat.update', body: { channel: 'C0APPROVERS', ts: '1767261600.000100', text: status.text, blocks: status.blocks } },
        { api: 'conversations.open', body: { users: 'U0ALICE' } },
        { api: 'chat.postMessage', body: { channel: 'D0U0ALICE', text: ready.text, blocks: ready.blocks, unfurl_links: false, unfurl_media: false } },
      ]),
    );
    expect(sent()).toHaveLength(4);
  });

  it('sends no "access ready" message for access revoked before the announcement went out, only the status', async () => {
    const { notifier, sent } = setup();
    await notifier.notify(note('request.created', pendingRequest()));
    const revoked = activeRequest({ status: 'REVOKED', version: 4, endedAt: AT });

    await notifier.notify(note('request.active', revoked, 'rolegate'));

    expect(sent().slice(1).map((c) => c.api)).toEqual(['chat.update']);
    expect(sent()[1]!.body.text).toBe(statusMessage(revoked, { slackUserOf, actor: 'rolegate' }).text);
  });

  it('does not message a requester who has no Slack identity', async () => {
    const { notifier, sent } = setup();
    await notifier.notify(note('request.active', activeRequest({ requester: ARN.bob, principalArn: ARN.bob })));
    expect(sent()).toEqual([]);
  });

  it('stays silent for rules without a channel and for auto-approved requests', async () => {
    const { notifier, sent } = setup();
    await notifier.notify(note('request.created', pendingRequest({ ruleId: 'admin-two-approvals' })));
    await notifier.notify(note('request.approved', pendingRequest({ ruleId: 'staging-self-service', status: 'APPROVED', approvalsRequired: 0 })));
    await notifier.notify(note('drift.detected', activeRequest()));
    expect(sent()).toEqual([]);
  });

  it('never shows an older state over a newer one when notifications arrive out of order', async () => {
    const { notifier, sent } = setup();
    await notifier.notify(note('request.created', pendingRequest()));
    await notifier.notify(note('request.active', activeRequest({ requester: ARN.bob, version: 4 })));
    await notifier.notify(note('request.approved', pendingRequest({ status: 'APPROVED', version: 2, approvals: [ARN.leadAnna] })));
    expect(sent().map((c) => c.api)).toEqual(['chat.postMessage', 'chat.update']);
  });

  it('throws when Slack refuses, so the caller can audit it', async () => {
    const { notifier, messages } = setup(() => ({ json: { ok: false, error: 'not_in_channel' } }));
    await expect(notifier.notify(note('request.created', pendingRequest()))).rejects.toEqual(new SlackApiError('chat.postMessage', 'not_in_channel', 200));
    expect(await messages.get(REQUEST_ID)).toBeUndefined();
  });

  it('still sends the direct message when the channel update fails, then reports the failure', async () => {
    const { notifier, messages, sent } = setup((call) => (call.url.endsWith('chat.update') ? { json: { ok: false, error: 'message_not_found' } } : undefined));
    await messages.put(REQUEST_ID, { channel: 'C0APPROVERS', ts: '1.1', version: 1 });

    await expect(notifier.notify(note('request.active', activeRequest()))).rejects.toMatchObject({ code: 'message_not_found' });
    expect(sent().map((c) => c.api).sort()).toEqual(['chat.postMessage', 'chat.update', 'conversations.open']);
  });

  it('reports both failures together when everything fails', async () => {
    const { notifier, messages } = setup(() => ({ json: { ok: false, error: 'invalid_auth' } }));
    await messages.put(REQUEST_ID, { channel: 'C0APPROVERS', ts: '1.1', version: 1 });
    await expect(notifier.notify(note('request.active', activeRequest()))).rejects.toThrow(
      'Slack notification failed: Slack chat.update failed: invalid_auth; Slack conversations.open failed: invalid_auth',
    );
  });
});

describe('slackUserIndex: whom a principal, and the person behind it, is in Slack', () => {
  const DEV_ROLE = 'arn:aws:iam::111111111111:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_Dev_0123456789abcdef';
  const session = (person: string) => `arn:aws:sts::111111111111:assumed-role/AWSReservedSSO_Dev_0123456789abcdef/${person}`;
  const indexOf = (users: Record<string, string>) => slackUserIndex(settingsWith((doc) => (doc.slack = { users })));

  it('tells the people of one Identity Center role apart by their sessions, and names none by the role alone', () => {
    const of = indexOf({ U0ALICE: session('alice@example.com'), U0BOB: session('bob@example.com') });
    expect([of(DEV_ROLE, 'alice@example.com'), of(DEV_ROLE, 'bob@example.com')]).toEqual(['U0ALICE', 'U0BOB']);
    // An approver or actor is known by the role only: either of them could be meant.
    expect(of(DEV_ROLE)).toBeUndefined();
    expect(of(DEV_ROLE, 'carol@example.com')).toBeUndefined();
  });

  it("never names one person's Slack user for another person of the same role", () => {
    const of = indexOf({ U0ALICE: session('alice@example.com') });
    expect(of(DEV_ROLE, 'alice@example.com')).toBe('U0ALICE');
    expect(of(DEV_ROLE, 'bob@example.com')).toBeUndefined();
    // An approver or an actor known by the role alone may be Bob: not Alice's to be credited with.
    expect(of(DEV_ROLE)).toBeUndefined();
  });

  it('names the one Slack user mapped to a principal itself, and none when several share it', () => {
    expect(indexOf({ U0DEV: DEV_ROLE })(DEV_ROLE, 'bob@example.com')).toBe('U0DEV');
    expect(indexOf({ U0ALICE: ARN.alice })('arn:aws:iam::111111111111:user/people/ALICE')).toBe('U0ALICE');
    const shared = indexOf({ U0ONE: ARN.otherRole, U0TWO: ARN.otherRole, U0ALICE: ARN.alice });
    expect([shared(ARN.otherRole), shared(ARN.alice)]).toEqual([undefined, 'U0ALICE']);
  });

  it('sends "access ready" to the person who asked through a shared Identity Center role, not to the first one mapped', async () => {
    const slack = fakeSlack();
    const notifier = new SlackNotifier({
      slack: new SlackClient({ token: 'xoxb-test', fetch: slack.fetch }),
      settings: settingsWith((doc) => (doc.slack = { users: { U0ALICE: session('alice@example.com'), U0BOB: session('bob@example.com') } })),
      messages: new InMemorySlackMessageStore(),
    });

    await notifier.notify(note('request.active', activeRequest({ requester: DEV_ROLE, principalArn: DEV_ROLE, requesterPerson: 'bob@example.com' }), 'rolegate'));

    expect(slack.calls.find((c) => c.url.endsWith('conversations.open'))?.body).toEqual({ users: 'U0BOB' });
  });
});
