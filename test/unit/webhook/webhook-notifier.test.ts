import { StaticSecretSource } from '../../../src/adapters/secrets/ssm-secrets';
import { verifyWebhook } from '../../../src/adapters/webhook/signer';
import { WebhookDeliveryError, WebhookNotifier, type FetchLike, type WebhookNotifierDeps } from '../../../src/adapters/webhook/webhook-notifier';
import type { Notification } from '../../../src/domain/ports';
import type { Settings } from '../../../src/domain/settings';
import { activeRequest, pendingRequest, REQUEST_ID } from '../slack/fixtures';

const NOW = new Date('2026-01-01T10:00:00.000Z');
const SECRETS = new StaticSecretSource({ '/rolegate/webhooks/a': 'secret-a', '/rolegate/webhooks/b': 'secret-b' });
const HOOK_A: Settings['webhooks'][number] = { url: 'https://a.example.com/hooks/rolegate', secretParameter: '/rolegate/webhooks/a', events: ['*'] };
const HOOK_B: Settings['webhooks'][number] = { url: 'https://b.example.org/webhookb2/SECRET-PATH-TOKEN/IncomingWebhook/x', secretParameter: '/rolegate/webhooks/b', events: ['request.denied', 'request.active'] };

interface Sent {
  url: string;
  init: RequestInit;
  headers: Record<string, string>;
  body: string;
}

/** A fetch that answers each call with the next scripted status (or throws it). */
function scripted(...answers: (number | Error)[]) {
  const sent: Sent[] = [];
  const fetch: FetchLike = async (url, init) => {
    sent.push({ url, init, headers: init.headers as Record<string, string>, body: String(init.body) });
    const next = answers.length > 1 ? answers.shift()! : answers[0]!;
    if (next instanceof Error) throw next;
    return new Response(next === 204 ? null : 'answer', { status: next });
  };
  return { fetch, sent };
}

function notifier(fetch: FetchLike, patch: Partial<WebhookNotifierDeps> = {}) {
  const sleeps: number[] = [];
  let id = 0;
  const n = new WebhookNotifier({
    webhooks: [HOOK_A],
    secrets: SECRETS,
    clock: { now: () => NOW },
    fetch,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    newId: () => `id-${++id}`,
    ...patch,
  });
  return { n, sleeps };
}

const created: Notification = { kind: 'request.created', request: pendingRequest(), actor: 'arn:aws:iam::111111111111:user/alice', at: NOW.toISOString() };

describe('WebhookNotifier', () => {
  it('POSTs the signed event with the documented headers and body', async () => {
    const { fetch, sent } = scripted(204);
    const { n } = notifier(fetch);

    await n.notify({ ...created, comment: 'please' });

    expect(sent).toHaveLength(1);
    const [call] = sent;
    expect(call!.url).toBe(HOOK_A.url);
    expect(call!.init.method).toBe('POST');
    expect(call!.init.redirect).toBe('manual');
    expect(call!.init.signal).toBeInstanceOf(AbortSignal);
    expect(call!.headers).toEqual({
      'content-type': 'application/json; charset=utf-8',
      'user-agent': 'rolegate-webhook/1',
      'x-rolegate-event': 'request.created',
      'x-rolegate-delivery': 'id-2',
      'x-rolegate-timestamp': String(NOW.getTime() / 1000),
      'x-rolegate-signature': expect.stringMatching(/^v1=[0-9a-f]{64}$/),
    });
    expect(JSON.parse(call!.body)).toEqual({
      id: 'id-1',
      kind: 'request.created',
      at: '2026-01-01T10:00:00.000Z',
      request: {
        id: REQUEST_ID,
        version: 1,
        status: 'PENDING',
        requester: 'arn:aws:iam::111111111111:user/alice',
        principalArn: 'arn:aws:iam::111111111111:user/alice',
        accountId: '333333333333',
        accountAlias: 'production',
        profile: 'ReadOnly',
        ruleId: 'production-read',
        durationMinutes: 90,
        reason: 'Investigating INC-42',
        ticket: 'INC-42',
        approvalsRequired: 1,
        approvals: [],
        createdAt: '2026-01-01T10:00:00.000Z',
        updatedAt: '2026-01-01T10:00:00.000Z',
        decisionDeadline: '2026-01-01T12:00:00.000Z',
      },
      actor: 'arn:aws:iam::111111111111:user/alice',
      comment: 'please',
    });
    expect(verifyWebhook({ secret: 'secret-a', timestamp: call!.headers['x-rolegate-timestamp'], signature: call!.headers['x-rolegate-signature'], body: call!.body, now: NOW })).toBe(true);
  });

  it("uses the audit event's id as the event id, so a receiver can drop a repeat the worker sends after a crash", async () => {
    const { fetch, sent } = scripted(204);
    const { n } = notifier(fetch);
    await n.notify({ ...created, id: '01JAUDITEVENT' });
    await n.notify({ ...created, id: '01JAUDITEVENT' });
    expect(sent.map((c) => JSON.parse(c.body).id)).toEqual(['01JAUDITEVENT', '01JAUDITEVENT']);
    expect(new Set(sent.map((c) => c.headers['x-rolegate-delivery'])).size).toBe(2);
  });

  it("names the audit trail's action, so a receiver tells a retry from an approval", async () => {
    const { fetch, sent } = scripted(204);
    const { n } = notifier(fetch);
    await n.notify({ ...created, kind: 'request.approved', action: 'RETRY_REQUESTED', actor: 'arn:aws:iam::111111111111:user/lead-anna', comment: 'quota fixed' });
    await n.notify({ ...created, kind: 'request.approved', action: 'APPROVED' });
    expect(sent.map((c) => JSON.parse(c.body)).map((b) => [b.kind, b.action, b.actor])).toEqual([
      ['request.approved', 'RETRY_REQUESTED', 'arn:aws:iam::111111111111:user/lead-anna'],
      ['request.approved', 'APPROVED', 'arn:aws:iam::111111111111:user/alice'],
    ]);
  });

  it('leaves the provisioning plan and internal fields out of the public request', async () => {
    const { fetch, sent } = scripted(200);
    const { n } = notifier(fetch);
    await n.notify({ ...created, kind: 'request.active', request: { ...activeRequest(), plan: [{ service: 'iam', command: 'CreateRole', input: {} }], provisioningAttempts: 1 } });
    const request = JSON.parse(sent[0]!.body).request;
    expect(request).toEqual(expect.objectContaining({ status: 'ACTIVE', roleArn: 'arn:aws:iam::333333333333:role/rolegate/rolegate-ReadOnly-alice', endsAt: '2026-01-01T11:35:00.000Z' }));
    expect(Object.keys(request)).not.toEqual(expect.arrayContaining(['plan']));
    for (const hidden of ['plan', 'grantKey', 'provisioningAttempts', 'access']) expect(request).not.toHaveProperty(hidden);
    expect(request).not.toHaveProperty('principalSession');
  });

  it("names a personal grant's one session, so a receiver knows who alone may use the role", async () => {
    const { fetch, sent } = scripted(200);
    const { n } = notifier(fetch);
    await n.notify({ ...created, kind: 'request.active', request: { ...activeRequest(), principalSession: 'Alice@Example.com' } });
    expect(JSON.parse(sent[0]!.body).request.principalSession).toBe('Alice@Example.com');
  });

  it('sends only to webhooks subscribed to the event kind', async () => {
    const { fetch, sent } = scripted(200);
    const { n } = notifier(fetch, { webhooks: [HOOK_A, HOOK_B] });
    await n.notify(created);
    await n.notify({ ...created, kind: 'request.denied' });
    expect(sent.map((s) => [s.url, s.headers['x-rolegate-event']])).toEqual([
      [HOOK_A.url, 'request.created'],
      [HOOK_A.url, 'request.denied'],
      [HOOK_B.url, 'request.denied'],
    ]);
    // Each webhook is signed with its own secret.
    const b = sent[2]!;
    expect(verifyWebhook({ secret: 'secret-b', timestamp: b.headers['x-rolegate-timestamp'], signature: b.headers['x-rolegate-signature'], body: b.body, now: NOW })).toBe(true);
    expect(verifyWebhook({ secret: 'secret-a', timestamp: b.headers['x-rolegate-timestamp'], signature: b.headers['x-rolegate-signature'], body: b.body, now: NOW })).toBe(false);
  });

  it('retries a 500 with exponential backoff and stops at the first success', async () => {
    const { fetch, sent } = scripted(500, 503, 200);
    const { n, sleeps } = notifier(fetch);

    await n.notify(created);

    expect(sent).toHaveLength(3);
    expect(sleeps).toEqual([500, 1000]);
    // The same delivery id and body on every attempt, so that a receiver can drop duplicates.
    expect(new Set(sent.map((s) => s.headers['x-rolegate-delivery']))).toEqual(new Set(['id-2']));
    expect(new Set(sent.map((s) => s.body)).size).toBe(1);
  });

  it('retries network errors, timeouts and 429', async () => {
    const timeout = Object.assign(new Error('The operation was aborted due to timeout'), { name: 'TimeoutError' });
    const refused = Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } });
    const { fetch, sent } = scripted(refused, timeout, 429, 200);
    const { n, sleeps } = notifier(fetch, { attempts: 4 });
    await n.notify(created);
    expect(sent).toHaveLength(4);
    expect(sleeps).toEqual([500, 1000, 2000]);
  });

  it('starts no retry that could end more than 20 s after the first attempt (a 429 asking for 10 s gets two attempts)', async () => {
    let now = NOW.getTime();
    const { fetch, sent } = scripted(429);
    const slow: FetchLike = async (url, init) => {
      const res = await fetch(url, init);
      return new Response(null, { status: res.status, headers: { 'retry-after': '10' } });
    };
    const { n, sleeps } = notifier(slow, {
      clock: { now: () => new Date(now) },
      sleep: async (ms) => {
        sleeps.push(ms);
        now += ms;
      },
    });

    const error = (await n.notify(created).catch((e: unknown) => e)) as WebhookDeliveryError;

    expect(sent).toHaveLength(2);
    expect(sleeps).toEqual([10_000]);
    expect(error.failures).toEqual([{ webhook: 'webhooks[0] https://a.example.com', reason: 'HTTP 429, no time left to retry', attempts: 2 }]);
  });

  it('counts reading the secret in those 20 s: a 503 after a 15 s read (SSM slow) is not tried again, after a 14 s read it is', async () => {
    let now = NOW.getTime();
    const { fetch, sent } = scripted(503, 204);
    const slowSecrets = { get: async (name: string) => ((now += 14_000), SECRETS.get(name)) };
    const { n, sleeps } = notifier(fetch, { clock: { now: () => new Date(now) }, secrets: slowSecrets });

    const error = (await n.notify(created).catch((e: unknown) => e)) as WebhookDeliveryError;

    // 14 s read, then a retry 500 ms later that may take 5 s: 19.5 s would do, so one more is tried; at 15 s there is not.
    expect(sent).toHaveLength(2);
    expect(sleeps).toEqual([500]);
    expect(error).toBeUndefined();

    now = NOW.getTime();
    const late = scripted(503, 204);
    const slower = { get: async (name: string) => ((now += 15_000), SECRETS.get(name)) };
    const second = notifier(late.fetch, { clock: { now: () => new Date(now) }, secrets: slower });
    const refused = (await second.n.notify(created).catch((e: unknown) => e)) as WebhookDeliveryError;
    expect(late.sent).toHaveLength(1);
    expect(refused.failures).toEqual([{ webhook: 'webhooks[0] https://a.example.com', reason: 'HTTP 503, no time left to retry', attempts: 1 }]);
  });

  it('still makes all three attempts at a receiver that never answers (16.5 s)', async () => {
    let now = NOW.getTime();
    const timeout = Object.assign(new Error('The operation was aborted due to timeout'), { name: 'TimeoutError' });
    const sent: number[] = [];
    const hanging: FetchLike = async () => {
      sent.push(now);
      now += 5000;
      throw timeout;
    };
    const { n } = notifier(hanging, {
      clock: { now: () => new Date(now) },
      sleep: async (ms) => {
        now += ms;
      },
    });

    await expect(n.notify(created)).rejects.toThrow('(timed out, 3 attempts)');
    expect(sent).toHaveLength(3);
    expect(now - NOW.getTime()).toBe(16_500);
  });

  it('does not retry a 400', async () => {
    const { fetch, sent } = scripted(400);
    const { n, sleeps } = notifier(fetch);
    const error = await n.notify(created).catch((e: unknown) => e);
    expect(sent).toHaveLength(1);
    expect(sleeps).toEqual([]);
    expect(error).toBeInstanceOf(WebhookDeliveryError);
    expect((error as WebhookDeliveryError).failures).toEqual([{ webhook: 'webhooks[0] https://a.example.com', reason: 'HTTP 400', attempts: 1 }]);
  });

  it('does not follow or retry a redirect', async () => {
    const { fetch, sent } = scripted(302);
    const { n } = notifier(fetch);
    await expect(n.notify(created)).rejects.toThrow('Webhook delivery failed for webhooks[0] https://a.example.com (HTTP 302, 1 attempt)');
    expect(sent).toHaveLength(1);
  });

  it('reports every webhook that failed after its attempts, naming it without its secret path', async () => {
    const { fetch, sent } = scripted(500);
    const { n } = notifier(fetch, { webhooks: [HOOK_A, HOOK_B] });

    const error = (await n.notify({ ...created, kind: 'request.active', request: activeRequest() }).catch((e: unknown) => e)) as WebhookDeliveryError;

    expect(sent).toHaveLength(6);
    expect(error).toBeInstanceOf(AggregateError);
    expect(error.message).toBe(
      'Webhook delivery failed for webhooks[0] https://a.example.com (HTTP 500, 3 attempts); webhooks[1] https://b.example.org (HTTP 500, 3 attempts)',
    );
    expect(error.errors).toHaveLength(2);
    expect(JSON.stringify(error.failures) + error.message).not.toContain('SECRET-PATH-TOKEN');
  });

  it('still delivers to the other webhooks when one fails', async () => {
    const sent: string[] = [];
    const fetch: FetchLike = async (url) => {
      sent.push(url);
      return new Response(null, { status: url === HOOK_A.url ? 404 : 204 });
    };
    const { n } = notifier(fetch, { webhooks: [HOOK_A, HOOK_B] });
    await expect(n.notify({ ...created, kind: 'request.denied' })).rejects.toThrow('webhooks[0] https://a.example.com (HTTP 404, 1 attempt)');
    expect(sent).toEqual([HOOK_A.url, HOOK_B.url]);
  });

  it('reports a webhook whose secret cannot be read, without calling it', async () => {
    const { fetch, sent } = scripted(200);
    const { n } = notifier(fetch, { webhooks: [{ ...HOOK_A, secretParameter: '/missing' }] });
    await expect(n.notify(created)).rejects.toThrow('webhooks[0] https://a.example.com (secret unavailable: No secret named /missing is configured., 0 attempts)');
    expect(sent).toEqual([]);
  });

  it('does nothing without webhooks', async () => {
    const { fetch, sent } = scripted(200);
    const { n } = notifier(fetch, { webhooks: [] });
    await n.notify(created);
    expect(sent).toEqual([]);
  });
});
