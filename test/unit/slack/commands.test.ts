import { ValidationError } from '../../../src/domain/errors';
import {
  parseAccessCommand,
  parseDuration,
  parseInteraction,
  parseSlashCommand,
  SlackPayloadError,
  usage,
  type AccessCommand,
} from '../../../src/adapters/slack/commands';
import { blockActionsPayload, interactionBody, REQUEST_ID, slashCommandBody } from './fixtures';

/** The text as Slack delivers it: &, < and > HTML-escaped. */
const asSlackSends = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

describe('parseAccessCommand', () => {
  it.each<[string, AccessCommand]>([
    ['request production ReadOnly 90m Investigating INC-42', { kind: 'request', account: 'production', profile: 'ReadOnly', durationMinutes: 90, reason: 'Investigating INC-42' }],
    ['request 333333333333 EC2Admin 2h   resize   the fleet', { kind: 'request', account: '333333333333', profile: 'EC2Admin', durationMinutes: 120, reason: 'resize   the fleet' }],
    ['REQUEST Production ReadOnly 1h30m on-call', { kind: 'request', account: 'production', profile: 'ReadOnly', durationMinutes: 90, reason: 'on-call' }],
    ['request staging S3ReadOnly 45 check a bucket', { kind: 'request', account: 'staging', profile: 'S3ReadOnly', durationMinutes: 45, reason: 'check a bucket' }],
    ['request production ReadOnly 2H --ticket INC-42 page from PagerDuty', { kind: 'request', account: 'production', profile: 'ReadOnly', durationMinutes: 120, reason: 'page from PagerDuty', ticket: 'INC-42' }],
    ['request production ReadOnly 2h --ticket=JIRA/OPS#7 deploy', { kind: 'request', account: 'production', profile: 'ReadOnly', durationMinutes: 120, reason: 'deploy', ticket: 'JIRA/OPS#7' }],
    ['request production ReadOnly 2h line one\nline two', { kind: 'request', account: 'production', profile: 'ReadOnly', durationMinutes: 120, reason: 'line one\nline two' }],
    ['list', { kind: 'list' }],
    ['  LIST  ', { kind: 'list' }],
    [`status ${REQUEST_ID}`, { kind: 'status', requestId: REQUEST_ID }],
    [`status ${REQUEST_ID.toLowerCase()}`, { kind: 'status', requestId: REQUEST_ID }],
    [`approve ${REQUEST_ID}`, { kind: 'approve', requestId: REQUEST_ID }],
    [`approve ${REQUEST_ID} looks fine, go ahead`, { kind: 'approve', requestId: REQUEST_ID, comment: 'looks fine, go ahead' }],
    [`deny ${REQUEST_ID} use the staging account`, { kind: 'deny', requestId: REQUEST_ID, reason: 'use the staging account' }],
    [`revoke ${REQUEST_ID}`, { kind: 'revoke', requestId: REQUEST_ID }],
    [`revoke ${REQUEST_ID} incident over`, { kind: 'revoke', requestId: REQUEST_ID, comment: 'incident over' }],
    [`cancel ${REQUEST_ID}`, { kind: 'cancel', requestId: REQUEST_ID }],
    ['help', { kind: 'help' }],
    ['help me please', { kind: 'help' }],
    ['', { kind: 'help' }],
    ['   ', { kind: 'help' }],
  ])('parses %j', (text, expected) => {
    expect(parseAccessCommand(text)).toEqual(expected);
  });

  it('gives back the text the user typed, not Slack\'s HTML escaping of it', () => {
    const parsed = parseAccessCommand(asSlackSends('request production ReadOnly 1h a < b && c > d <!channel>'));
    expect(parsed).toEqual(expect.objectContaining({ kind: 'request', reason: 'a < b && c > d <!channel>' }));
  });

  it.each<[string, string]>([
    ['frobnicate', 'Unknown subcommand "frobnicate".'],
    ['request', 'request needs <account> <profile> <duration> <reason…>; <account> is missing: /access request production ReadOnly 2h investigating INC-42.'],
    ['request production', 'request needs <account> <profile> <duration> <reason…>; <profile> is missing: /access request production ReadOnly 2h investigating INC-42.'],
    ['request production ReadOnly', 'request needs <account> <profile> <duration> <reason…>; <duration> is missing: /access request production ReadOnly 2h investigating INC-42.'],
    ['request production ReadOnly 2h', 'request needs <account> <profile> <duration> <reason…>; <reason…> is missing: /access request production ReadOnly 2h investigating INC-42.'],
    ['request production ReadOnly 2h --ticket', '"--ticket" needs a ticket id of 1–64 letters, digits and ._#:/- characters.'],
    ['request production ReadOnly 2h --ticket INC-42', 'request needs a reason after the duration: /access request production ReadOnly 2h <reason…>.'],
    ['request production ReadOnly 2h --ticket=ü reason', '"--ticket" needs a ticket id of 1–64 letters, digits and ._#:/- characters.'],
    ['request prod_uction ReadOnly 2h x', '"prod_uction" is not an account alias or a 12-digit account id.'],
    ['request production Read.Only 2h x', '"Read.Only" is not a profile name (letters, digits, _ or -).'],
    ['request production ReadOnly 1.5h x', '"1.5h" is not a duration: use 90m, 2h, 1h30m or a number of minutes such as 90.'],
    ['request production ReadOnly 1d x', '"1d" is not a duration: use 90m, 2h, 1h30m or a number of minutes such as 90.'],
    ['request production ReadOnly 90s x', '"90s" is not a duration: use 90m, 2h, 1h30m or a number of minutes such as 90.'],
    ['request production ReadOnly -5 x', '"-5" is not a duration: use 90m, 2h, 1h30m or a number of minutes such as 90.'],
    ['request production ReadOnly 0 x', '"0" is not a duration: it must be at least 1 minute.'],
    ['request production ReadOnly 0h0m x', '"0h0m" is not a duration: it must be at least 1 minute.'],
    ['request production ReadOnly 1h90m x', '"1h90m" is not a duration: after hours, give fewer than 60 minutes (e.g. 1h30m).'],
    ['request production ReadOnly 721h x', '"721h" is too long: at most 30 days (43200 minutes).'],
    ['request production ReadOnly 99999999999 x', '"99999999999" is not a duration: use 90m, 2h, 1h30m or a number of minutes such as 90.'],
    [`request production ReadOnly 2h ${'x'.repeat(1001)}`, 'The reason must be at most 1000 characters (it has 1001).'],
    ['request production ReadOnly 2h bad\u0007bell', 'The reason must not hold control, invisible or text-direction characters.'],
    ['request production ReadOnly 2h read logs \u202eetirw', 'The reason must not hold control, invisible or text-direction characters.'],
    [`deny ${REQUEST_ID} no\u200bpe`, 'The reason must not hold control, invisible or text-direction characters.'],
    ['request production ReadOnly 2h half \ud800 a pair', 'The reason must be well-formed Unicode (it holds half of a surrogate pair).'],
    ['list mine', 'list takes no arguments; unexpected "mine".'],
    ['status', 'status needs a request id: /access status <id>.'],
    ['status 42', '"42" is not a request id (a 26-character ULID such as 01J9Z3N8W6Q4XK2V7R5T1M0ABC).'],
    [`status ${REQUEST_ID} extra`, 'status takes only a request id; unexpected "extra".'],
    [`cancel ${REQUEST_ID} now`, 'cancel takes only a request id; unexpected "now".'],
    ['approve', 'approve needs a request id: /access approve <id>.'],
    [`deny ${REQUEST_ID}`, `deny needs a reason: /access deny <id> <reason…>.`],
    ['deny', 'deny needs a request id: /access deny <id>.'],
    ['revoke not-an-id', '"not-an-id" is not a request id (a 26-character ULID such as 01J9Z3N8W6Q4XK2V7R5T1M0ABC).'],
  ])('refuses %j with a precise message and the usage', (text, message) => {
    expect(parseAccessCommand(text)).toEqual({ kind: 'invalid', message, usage: usage('/access') });
  });

  it('writes the usage with the command name Slack reported', () => {
    expect(parseAccessCommand('nope', '/aws-access')).toEqual(expect.objectContaining({ usage: expect.stringContaining('/aws-access request <account>') }));
  });
});

describe('parseDuration', () => {
  it.each([
    ['90m', 90],
    ['2h', 120],
    ['1h30m', 90],
    ['1H05M', 65],
    ['90', 90],
    ['720h', 43200],
    ['1', 1],
  ])('reads %s as %d minutes', (token, minutes) => {
    expect(parseDuration(token)).toEqual({ minutes });
  });

  it.each(['', 'h', 'm', 'hm', '1h30', '30m1h', '1 h', '1.5h', '2d', '1h-30m', 'PT2H', '0x10', '43201', '1e3'])('refuses %j', (token) => {
    expect(parseDuration(token)).toEqual({ error: expect.any(String) });
  });
});

describe('parseSlashCommand', () => {
  it('reads the form-encoded body Slack posts', () => {
    const body = slashCommandBody('request production ReadOnly 90m fix <the> thing & more');
    expect(parseSlashCommand(body)).toEqual({
      user_id: 'U2147483697',
      team_id: 'T0001ABCD',
      command: '/access',
      text: 'request production ReadOnly 90m fix &lt;the&gt; thing &amp; more',
      response_url: 'https://hooks.slack.com/commands/T0001ABCD/1234567890/abcdefABCDEF123456',
      trigger_id: '13345224609.738474920.8088930838d88f008e0',
      channel_id: 'C2147483705',
    });
  });

  it('takes a missing text as empty (a bare /access)', () => {
    const form = new URLSearchParams(slashCommandBody(''));
    form.delete('text');
    expect(parseSlashCommand(form.toString()).text).toBe('');
  });

  it.each<[string, Record<string, string>, string]>([
    ['user_id', { user_id: '' }, 'The Slack payload is malformed: user_id is missing.'],
    ['user_id', { user_id: 'alice' }, 'The Slack payload is malformed: user_id has an unexpected format.'],
    ['team_id', { team_id: 'X1' }, 'The Slack payload is malformed: team_id has an unexpected format.'],
    ['channel_id', { channel_id: '#general' }, 'The Slack payload is malformed: channel_id has an unexpected format.'],
    ['command', { command: 'access' }, 'The Slack payload is malformed: command has an unexpected format.'],
    ['response_url', { response_url: 'https://attacker.example/collect' }, 'The Slack payload is malformed: response_url is not a Slack reply URL (https://hooks.slack.com/commands/… or /actions/…).'],
    ['response_url', { response_url: 'http://hooks.slack.com/commands/1' }, 'The Slack payload is malformed: response_url is not a Slack reply URL (https://hooks.slack.com/commands/… or /actions/…).'],
    ['response_url', { response_url: 'https://hooks.slack.com.attacker.example/x' }, 'The Slack payload is malformed: response_url is not a Slack reply URL (https://hooks.slack.com/commands/… or /actions/…).'],
    ['response_url', { response_url: 'https://files.slack.com/commands/T1/2/x' }, 'The Slack payload is malformed: response_url is not a Slack reply URL (https://hooks.slack.com/commands/… or /actions/…).'],
    ['response_url', { response_url: 'https://hooks.slack.com/services/T1/B2/x' }, 'The Slack payload is malformed: response_url is not a Slack reply URL (https://hooks.slack.com/commands/… or /actions/…).'],
    ['trigger_id', { trigger_id: '' }, 'The Slack payload is malformed: trigger_id is missing.'],
    // The trigger id becomes the job's key: DynamoDB refuses a key over 2,048 bytes (a 500, not a 400).
    ['trigger_id', { trigger_id: '1'.repeat(3000) }, 'The Slack payload is malformed: trigger_id has an unexpected format.'],
    ['trigger_id', { trigger_id: '1.2#x' }, 'The Slack payload is malformed: trigger_id has an unexpected format.'],
  ])('refuses a body whose %s is wrong', (field, overrides, message) => {
    const act = () => parseSlashCommand(slashCommandBody('list', overrides));
    expect(act).toThrow(SlackPayloadError);
    expect(act).toThrow(ValidationError);
    expect(act).toThrow(message);
    expect(act).toThrow(expect.objectContaining({ details: [expect.objectContaining({ field })] }));
  });

  it('refuses a body that is not a slash command at all', () => {
    expect(() => parseSlashCommand('{"json":true}')).toThrow(SlackPayloadError);
    expect(() => parseSlashCommand('')).toThrow(SlackPayloadError);
  });
});

describe('parseInteraction', () => {
  it('reads a click on Approve from a block_actions payload', () => {
    expect(parseInteraction(interactionBody(blockActionsPayload('rolegate_approve')))).toEqual({
      type: 'block_action',
      action: {
        userId: 'U0LEADANNA',
        teamId: 'T0001ABCD',
        actionId: 'rolegate_approve',
        value: REQUEST_ID,
        responseUrl: 'https://hooks.slack.com/actions/T0001ABCD/1234567890/abcdefABCDEF123456',
        triggerId: '12466734323.1395872398.7b0f3b3b2d8c8e6b0c8e7d9e1c2b3a4f',
        messageTs: '1767261600.000100',
        channelId: 'C0APPROVERS',
      },
    });
  });

  it('reads a click on Deny', () => {
    expect(parseInteraction(interactionBody(blockActionsPayload('rolegate_deny')))).toEqual({
      type: 'block_action',
      action: expect.objectContaining({ actionId: 'rolegate_deny', value: REQUEST_ID }),
    });
  });

  it('falls back to message.ts and channel.id when the container lacks them', () => {
    const payload = blockActionsPayload('rolegate_approve', REQUEST_ID, { container: { type: 'message' } });
    const parsed = parseInteraction(interactionBody(payload));
    expect(parsed).toEqual({ type: 'block_action', action: expect.objectContaining({ messageTs: '1767261600.000100', channelId: 'C0APPROVERS' }) });
  });

  it('ignores clicks that are not rolegate decisions, such as the console link button', () => {
    const payload = blockActionsPayload('rolegate_open_console', '', { response_url: undefined, container: { type: 'message', channel_id: 'D0DM' } });
    expect(parseInteraction(interactionBody(payload))).toEqual({ type: 'ignored', reason: 'action rolegate_open_console' });
  });

  it('ignores interaction types rolegate does not handle', () => {
    expect(parseInteraction(interactionBody({ type: 'shortcut', callback_id: 'x' }))).toEqual({ type: 'ignored', reason: 'interaction type shortcut' });
    expect(parseInteraction(interactionBody({ type: 'view_submission', view: { callback_id: 'another_app_modal' } }))).toEqual({
      type: 'ignored',
      reason: 'view another_app_modal',
    });
  });

  it.each<[string, string]>([
    ['no payload field', 'foo=bar'],
    ['an empty body', ''],
    ['invalid JSON', 'payload=%7Bnot-json'],
    ['a JSON array', interactionBody([1, 2])],
    ['a payload without type', interactionBody({ user: { id: 'U1' } })],
    ['no actions', interactionBody(blockActionsPayload('rolegate_approve', REQUEST_ID, { actions: [] }))],
    ['an action that is not an object', interactionBody(blockActionsPayload('rolegate_approve', REQUEST_ID, { actions: ['approve'] }))],
    ['a button value that is not a request id', interactionBody(blockActionsPayload('rolegate_approve', '../../etc/passwd'))],
    ['no user', interactionBody(blockActionsPayload('rolegate_approve', REQUEST_ID, { user: null }))],
    ['a user id that is a number', interactionBody(blockActionsPayload('rolegate_approve', REQUEST_ID, { user: { id: 42 } }))],
    ['a response_url off Slack', interactionBody(blockActionsPayload('rolegate_approve', REQUEST_ID, { response_url: 'https://169.254.169.254/latest' }))],
    ['no message ts', interactionBody(blockActionsPayload('rolegate_approve', REQUEST_ID, { container: {}, message: undefined }))],
    ['a trigger id too long to key a job', interactionBody(blockActionsPayload('rolegate_approve', REQUEST_ID, { trigger_id: '1'.repeat(3000) }))],
  ])('throws a SlackPayloadError for %s', (_name, body) => {
    expect(() => parseInteraction(body)).toThrow(SlackPayloadError);
  });
});

describe('parseInteraction: the deny-reason modal', () => {
  function submission(privateMetadata: string, reason: unknown) {
    return {
      type: 'view_submission',
      team: { id: 'T0001ABCD', domain: 'example' },
      user: { id: 'U0LEADANNA', username: 'lead-anna', team_id: 'T0001ABCD' },
      api_app_id: 'A0ROLEGATE',
      trigger_id: '12466734323.1395872398.aaaa',
      view: {
        id: 'V0123456',
        type: 'modal',
        callback_id: 'rolegate_deny_reason',
        private_metadata: privateMetadata,
        state: { values: { rolegate_deny_reason_block: { rolegate_deny_reason_input: { type: 'plain_text_input', value: reason } } } },
      },
      response_urls: [],
    };
  }

  it('reads the request id and the typed reason', () => {
    expect(parseInteraction(interactionBody(submission(REQUEST_ID, '  Use staging first.  ')))).toEqual({
      type: 'deny_reason',
      submission: { userId: 'U0LEADANNA', teamId: 'T0001ABCD', viewId: 'V0123456', requestId: REQUEST_ID, reason: 'Use staging first.' },
    });
  });

  it('reads the origin of the click when the modal carried it', () => {
    const metadata = JSON.stringify({
      requestId: REQUEST_ID,
      responseUrl: 'https://hooks.slack.com/actions/T0001ABCD/1/abc',
      channelId: 'C0APPROVERS',
      messageTs: '1767261600.000100',
    });
    expect(parseInteraction(interactionBody(submission(metadata, 'no')))).toEqual({
      type: 'deny_reason',
      submission: expect.objectContaining({
        requestId: REQUEST_ID,
        origin: { responseUrl: 'https://hooks.slack.com/actions/T0001ABCD/1/abc', channelId: 'C0APPROVERS', messageTs: '1767261600.000100' },
      }),
    });
  });

  it('answers a blank reason with the error to show in the modal', () => {
    expect(parseInteraction(interactionBody(submission(REQUEST_ID, '   ')))).toEqual({
      type: 'deny_reason_invalid',
      requestId: REQUEST_ID,
      response: { response_action: 'errors', errors: { rolegate_deny_reason_block: 'The reason must not be empty.' } },
    });
    expect(parseInteraction(interactionBody(submission(REQUEST_ID, null)))).toEqual(expect.objectContaining({ type: 'deny_reason_invalid' }));
  });

  it.each<[string, unknown]>([
    ['metadata that is not a request id', submission('hello', 'x')],
    ['metadata JSON with a foreign response_url', submission(JSON.stringify({ requestId: REQUEST_ID, responseUrl: 'https://evil.example' }), 'x')],
    ['broken metadata JSON', submission('{"requestId":', 'x')],
    ['a reason that is not text', submission(REQUEST_ID, { evil: true })],
    ['no state', { ...submission(REQUEST_ID, 'x'), view: { callback_id: 'rolegate_deny_reason', private_metadata: REQUEST_ID } }],
    ['a view id that is not one', { ...submission(REQUEST_ID, 'x'), view: { ...submission(REQUEST_ID, 'x').view, id: 'V1/../x' } }],
  ])('throws a SlackPayloadError for %s', (_name, payload) => {
    expect(() => parseInteraction(interactionBody(payload))).toThrow(SlackPayloadError);
  });
});

describe('parseInteraction: the user\'s workspace', () => {
  it('takes the user\'s own workspace over the one the click happened in (a channel shared with another workspace)', () => {
    const payload = blockActionsPayload('rolegate_approve', REQUEST_ID, { team: { id: 'T0HOST' }, user: { id: 'U0LEADANNA', team_id: 'T0GUEST' } });
    expect(parseInteraction(interactionBody(payload))).toEqual({ type: 'block_action', action: expect.objectContaining({ teamId: 'T0GUEST' }) });
  });

  it('falls back to the workspace of the click when Slack leaves the user\'s out', () => {
    const payload = blockActionsPayload('rolegate_approve', REQUEST_ID, { user: { id: 'U0LEADANNA' } });
    expect(parseInteraction(interactionBody(payload))).toEqual({ type: 'block_action', action: expect.objectContaining({ teamId: 'T0001ABCD' }) });
  });
});

describe('parseInteraction: org-wide installs', () => {
  it("takes the workspace from the user when Slack sends team: null", () => {
    const parsed = parseInteraction(interactionBody(blockActionsPayload('rolegate_approve', REQUEST_ID, { team: null })));
    expect(parsed).toEqual({ type: 'block_action', action: expect.objectContaining({ teamId: 'T0001ABCD' }) });
  });
});
