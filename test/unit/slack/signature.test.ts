import { UnauthenticatedError } from '../../../src/domain/errors';
import { signSlackRequest, SlackSignatureError, verifySlackRequest, type SlackSignatureReason } from '../../../src/adapters/slack/signature';
import { interactionBody, blockActionsPayload, slashCommandBody } from './fixtures';

const SECRET = 'e1f0c2a8d6b54f3c9a7e8d2b1c0f9e8d';
const NOW = new Date('2026-01-01T10:00:00.000Z');
const TS = Math.floor(NOW.getTime() / 1000);

function signed(body: string, opts: { secret?: string; ts?: number; headerCase?: 'lower' | 'slack' } = {}) {
  const ts = opts.ts ?? TS;
  const sig = signSlackRequest(opts.secret ?? SECRET, ts, body);
  return opts.headerCase === 'slack'
    ? { 'X-Slack-Request-Timestamp': String(ts), 'X-Slack-Signature': sig, 'Content-Type': 'application/x-www-form-urlencoded' }
    : { 'x-slack-request-timestamp': String(ts), 'x-slack-signature': sig, 'content-type': 'application/x-www-form-urlencoded' };
}

function reasonOf(fn: () => unknown): SlackSignatureReason | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof SlackSignatureError) return e.reason;
    throw e;
  }
  return undefined;
}

describe('verifySlackRequest', () => {
  const body = slashCommandBody('request production ReadOnly 90m Investigating INC-42');

  it('returns the raw body of a slash command signed with the signing secret', () => {
    expect(verifySlackRequest({ headers: signed(body), rawBody: body, signingSecret: SECRET, now: NOW })).toBe(body);
  });

  it('accepts an interaction payload signed the same way', () => {
    const interaction = interactionBody(blockActionsPayload());
    expect(verifySlackRequest({ headers: signed(interaction), rawBody: interaction, signingSecret: SECRET, now: NOW })).toBe(interaction);
  });

  it("matches the worked example of Slack's documentation", () => {
    const docBody =
      'token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar' +
      '&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN' +
      '&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c';
    const headers = {
      'X-Slack-Request-Timestamp': '1531420618',
      'X-Slack-Signature': 'v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503',
    };
    expect(verifySlackRequest({ headers, rawBody: docBody, signingSecret: '8f742231b10e8888abcd99yyyzzz85a5', now: new Date(1531420618 * 1000) })).toBe(docBody);
  });

  it('looks headers up whatever their case', () => {
    expect(verifySlackRequest({ headers: signed(body, { headerCase: 'slack' }), rawBody: body, signingSecret: SECRET, now: NOW })).toBe(body);
  });

  it('decodes a base64 body before checking the signature over its bytes', () => {
    const b64 = Buffer.from(body, 'utf8').toString('base64');
    expect(verifySlackRequest({ headers: signed(body), rawBody: b64, isBase64Encoded: true, signingSecret: SECRET, now: NOW })).toBe(body);
    // The signature covers what Slack sent, not API Gateway's encoding of it.
    expect(reasonOf(() => verifySlackRequest({ headers: signed(b64), rawBody: b64, isBase64Encoded: true, signingSecret: SECRET, now: NOW }))).toBe('invalid_signature');
  });

  it('verifies a body with multi-byte characters on its bytes', () => {
    const unicode = slashCommandBody('request production ReadOnly 2h déploiement 🚀');
    const b64 = Buffer.from(unicode, 'utf8').toString('base64');
    expect(verifySlackRequest({ headers: signed(unicode), rawBody: b64, isBase64Encoded: true, signingSecret: SECRET, now: NOW })).toBe(unicode);
  });

  it.each<[string, () => unknown, SlackSignatureReason]>([
    ['a tampered body', () => verifySlackRequest({ headers: signed(body), rawBody: body.replace('ReadOnly', 'AdminAccess'), signingSecret: SECRET, now: NOW }), 'invalid_signature'],
    ['a wrong secret', () => verifySlackRequest({ headers: signed(body, { secret: 'not-the-secret' }), rawBody: body, signingSecret: SECRET, now: NOW }), 'invalid_signature'],
    ['a timestamp 301 s old', () => verifySlackRequest({ headers: signed(body, { ts: TS - 301 }), rawBody: body, signingSecret: SECRET, now: NOW }), 'stale_timestamp'],
    ['a timestamp 301 s ahead', () => verifySlackRequest({ headers: signed(body, { ts: TS + 301 }), rawBody: body, signingSecret: SECRET, now: NOW }), 'future_timestamp'],
    ['no timestamp header', () => verifySlackRequest({ headers: { 'x-slack-signature': signSlackRequest(SECRET, TS, body) }, rawBody: body, signingSecret: SECRET, now: NOW }), 'missing_timestamp'],
    ['no signature header', () => verifySlackRequest({ headers: { 'x-slack-request-timestamp': String(TS) }, rawBody: body, signingSecret: SECRET, now: NOW }), 'missing_signature'],
    ['an empty signature header', () => verifySlackRequest({ headers: { ...signed(body), 'x-slack-signature': '' }, rawBody: body, signingSecret: SECRET, now: NOW }), 'missing_signature'],
    ['no headers at all', () => verifySlackRequest({ headers: null, rawBody: body, signingSecret: SECRET, now: NOW }), 'missing_timestamp'],
    ['a non-numeric timestamp', () => verifySlackRequest({ headers: { ...signed(body), 'x-slack-request-timestamp': `${TS}abc` }, rawBody: body, signingSecret: SECRET, now: NOW }), 'invalid_timestamp'],
    ['a negative timestamp', () => verifySlackRequest({ headers: { ...signed(body), 'x-slack-request-timestamp': '-1' }, rawBody: body, signingSecret: SECRET, now: NOW }), 'invalid_timestamp'],
    ['a timestamp in exponent form', () => verifySlackRequest({ headers: { ...signed(body), 'x-slack-request-timestamp': '1.767e9' }, rawBody: body, signingSecret: SECRET, now: NOW }), 'invalid_timestamp'],
    ['a signature of another length', () => verifySlackRequest({ headers: { ...signed(body), 'x-slack-signature': 'v0=abc' }, rawBody: body, signingSecret: SECRET, now: NOW }), 'invalid_signature'],
    ['a v1 signature', () => verifySlackRequest({ headers: { ...signed(body), 'x-slack-signature': signSlackRequest(SECRET, TS, body).replace('v0=', 'v1=') }, rawBody: body, signingSecret: SECRET, now: NOW }), 'invalid_signature'],
    ['an upper-case copy of the signature', () => verifySlackRequest({ headers: { ...signed(body), 'x-slack-signature': signSlackRequest(SECRET, TS, body).toUpperCase() }, rawBody: body, signingSecret: SECRET, now: NOW }), 'invalid_signature'],
    ['a signed body replaced by none', () => verifySlackRequest({ headers: signed(body), rawBody: null, signingSecret: SECRET, now: NOW }), 'invalid_signature'],
  ])('rejects %s', (_name, act, reason) => {
    expect(reasonOf(act)).toBe(reason);
  });

  it('accepts timestamps exactly 300 s old or ahead', () => {
    for (const ts of [TS - 300, TS + 300]) {
      expect(verifySlackRequest({ headers: signed(body, { ts }), rawBody: body, signingSecret: SECRET, now: NOW })).toBe(body);
    }
  });

  it('throws an UNAUTHENTICATED error (a 401) whose message does not reveal the reason', () => {
    const act = () => verifySlackRequest({ headers: signed(body, { ts: TS - 301 }), rawBody: body, signingSecret: SECRET, now: NOW });
    expect(act).toThrow(UnauthenticatedError);
    expect(act).toThrow(expect.objectContaining({ code: 'UNAUTHENTICATED', message: 'The request does not carry a valid Slack signature.' }));
  });

  it('treats an empty signing secret as a deployment error, not as a valid key', () => {
    const act = () => verifySlackRequest({ headers: signed(body, { secret: '' }), rawBody: body, signingSecret: '', now: NOW });
    expect(act).toThrow('The Slack signing secret is empty.');
    expect(act).not.toThrow(SlackSignatureError);
  });
});
