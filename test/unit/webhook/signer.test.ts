import * as crypto from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { StaticSecretSource } from '../../../src/adapters/secrets/ssm-secrets';
import { signWebhook, verifyWebhook } from '../../../src/adapters/webhook/signer';
import { WebhookNotifier } from '../../../src/adapters/webhook/webhook-notifier';
import { pendingRequest } from '../slack/fixtures';

const SECRET = 'whsec-3c1d9f0e7a2b4c6d8e0f1a2b3c4d5e6f';
const NOW = new Date('2026-01-01T10:00:00.000Z');
const TS = Math.floor(NOW.getTime() / 1000);

/**
 * A receiver written from the documented scheme alone (signer.ts doc comment,
 * copied into the README), without rolegate's code: raw body, "<timestamp>.<body>",
 * HMAC-SHA256 hex with the shared secret, "v1=" prefix, constant-time compare,
 * 300-second window.
 */
function receiverAccepts(secret: string, headers: Record<string, string>, rawBody: Buffer, nowSeconds: number): boolean {
  const timestamp = headers['x-rolegate-timestamp'];
  const signature = headers['x-rolegate-signature'];
  if (!timestamp || !signature || !/^\d+$/.test(timestamp)) return false;
  if (Math.abs(nowSeconds - Number(timestamp)) > 300) return false;
  const expected = Buffer.from('v1=' + createHmac('sha256', secret).update(Buffer.concat([Buffer.from(`${timestamp}.`), rawBody])).digest('hex'));
  const given = Buffer.from(signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

async function deliverOne(): Promise<{ headers: Record<string, string>; body: Buffer }> {
  const delivered: { headers: Record<string, string>; body: Buffer }[] = [];
  const notifier = new WebhookNotifier({
    webhooks: [{ url: 'https://hooks.example.com/rolegate', secretParameter: '/rolegate/webhooks/teams', events: ['*'] }],
    secrets: new StaticSecretSource({ '/rolegate/webhooks/teams': SECRET }),
    clock: { now: () => NOW },
    fetch: async (_url, init) => {
      delivered.push({ headers: init.headers as Record<string, string>, body: Buffer.from(String(init.body), 'utf8') });
      return new Response(null, { status: 204 });
    },
  });
  await notifier.notify({ kind: 'request.created', request: pendingRequest({ reason: 'déploiement 🚀 "quoted" <tag>' }), actor: 'arn:aws:iam::111111111111:user/alice', at: NOW.toISOString() });
  expect(delivered).toHaveLength(1);
  return delivered[0]!;
}

describe('webhook signature', () => {
  it('verifies on a receiver built from the documented scheme alone', async () => {
    const { headers, body } = await deliverOne();
    expect(receiverAccepts(SECRET, headers, body, TS)).toBe(true);
    expect(receiverAccepts(SECRET, headers, body, TS + 300)).toBe(true);
  });

  it('fails on that receiver for a tampered body, a wrong secret or an old delivery', async () => {
    const { headers, body } = await deliverOne();
    expect(receiverAccepts(SECRET, headers, Buffer.from(body.toString().replace('PENDING', 'APPROVED')), TS)).toBe(false);
    expect(receiverAccepts('another-secret', headers, body, TS)).toBe(false);
    expect(receiverAccepts(SECRET, headers, body, TS + 301)).toBe(false);
    expect(receiverAccepts(SECRET, { ...headers, 'x-rolegate-timestamp': String(TS - 1) }, body, TS)).toBe(false);
  });

  it('is also accepted by verifyWebhook', async () => {
    const { headers, body } = await deliverOne();
    expect(
      verifyWebhook({ secret: SECRET, timestamp: headers['x-rolegate-timestamp'], signature: headers['x-rolegate-signature'], body: body.toString('utf8'), now: NOW }),
    ).toBe(true);
  });
});

describe("the README's verification snippet, run as written", () => {
  const README = readFileSync(join(__dirname, '..', '..', '..', 'README.md'), 'utf8');
  const snippet = /To verify a delivery:[\s\S]*?```js\n([\s\S]*?)```/.exec(README)![1]!;
  const receiver = new Function('crypto', 'secret', 'timestamp', 'signature', 'rawBody', `${snippet}\nreturn ok;`) as (c: typeof crypto, secret: string, timestamp: unknown, signature: unknown, rawBody: Buffer) => boolean;
  /** The snippet checks the time against Date.now(): a delivery signed just now. */
  const fresh = () => {
    const ts = Math.floor(Date.now() / 1000);
    const body = Buffer.from('{"id":"e1","kind":"request.approved"}');
    return { ts: String(ts), body, signature: signWebhook(SECRET, ts, body.toString()) };
  };

  it('accepts a genuine delivery and refuses a tampered one', () => {
    const { ts, body, signature } = fresh();
    expect(receiver(crypto, SECRET, ts, signature, body)).toBe(true);
    expect(receiver(crypto, SECRET, ts, signature, Buffer.from(body.toString().replace('approved', 'denied')))).toBe(false);
  });

  it('refuses, without throwing, a signature header of other bytes than characters, a missing one, and a timestamp that is no whole number', () => {
    const { ts, body, signature } = fresh();
    // As many characters as a genuine signature, more bytes: comparing string lengths let timingSafeEqual throw.
    expect(receiver(crypto, SECRET, ts, `${signature.slice(0, -1)}é`, body)).toBe(false);
    expect(receiver(crypto, SECRET, ts, undefined, body)).toBe(false);
    expect(receiver(crypto, SECRET, `${ts}.0`, signature, body)).toBe(false);
  });
});

describe('verifyWebhook', () => {
  const body = '{"id":"e1","kind":"request.approved"}';
  const signature = signWebhook(SECRET, TS, body);

  it('matches the documented formula', () => {
    expect(signature).toBe(`v1=${createHmac('sha256', SECRET).update(`${TS}.${body}`).digest('hex')}`);
    expect(signature).toMatch(/^v1=[0-9a-f]{64}$/);
  });

  it.each<[string, Partial<Parameters<typeof verifyWebhook>[0]>, boolean]>([
    ['the genuine delivery', {}, true],
    ['300 s late', { now: new Date((TS + 300) * 1000) }, true],
    ['300 s early', { now: new Date((TS - 300) * 1000) }, true],
    ['301 s late', { now: new Date((TS + 301) * 1000) }, false],
    ['301 s early', { now: new Date((TS - 301) * 1000) }, false],
    ['301 s late with a 600 s tolerance', { now: new Date((TS + 301) * 1000), toleranceSeconds: 600 }, true],
    ['a tampered body', { body: body.replace('approved', 'denied') }, false],
    ['a wrong secret', { secret: 'nope' }, false],
    ['an empty secret', { secret: '' }, false],
    ['no signature', { signature: undefined }, false],
    ['no timestamp', { timestamp: null }, false],
    ['a timestamp that is not a number', { timestamp: `${TS}.5` }, false],
    ['another timestamp than the signed one', { timestamp: String(TS + 1) }, false],
    ['a truncated signature', { signature: signature.slice(0, 20) }, false],
    ['a signature without its scheme', { signature: signature.slice(3) }, false],
  ])('%s → %s', (_name, patch, expected) => {
    expect(verifyWebhook({ secret: SECRET, timestamp: String(TS), signature, body, now: NOW, ...patch })).toBe(expected);
  });
});
