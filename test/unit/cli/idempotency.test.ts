import { main } from '../../../src/cli/main';

/*
 * `request` and `extend` send an Idempotency-Key and, on a failure that may
 * have happened after the API acted (a timeout, a dropped connection, a
 * gateway 5xx), send the same call again with the same key: the API then
 * answers with what the first call made. The fake fetch plays the wire.
 */

const API = 'http://127.0.0.1:3000';
const ALICE = 'arn:aws:iam::111111111111:user/alice';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const MADE = { request: { id: '01KJNWP2NA4Z6K8N0Q5R7S9T1V', status: 'PENDING', approvals: [], approvalsRequired: 1, decisionDeadline: '2026-11-24T10:00:00.000Z' } };

type Answer = { status: number; body: unknown; headers?: Record<string, string> } | 'reset';

function wire(answers: Answer[]) {
  const sent: { method: string; path: string; key: string | null; body: string }[] = [];
  const fake = (async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = new URL(String(input));
    sent.push({ method: init?.method ?? 'GET', path: url.pathname, key: new Headers(init?.headers).get('idempotency-key'), body: String(init?.body) });
    const answer = answers.shift() ?? { status: 500, body: { error: 'INTERNAL' } };
    if (answer === 'reset') throw Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNRESET' } });
    return new Response(JSON.stringify(answer.body), { status: answer.status, headers: { 'content-type': 'application/json', ...answer.headers } });
  }) as typeof fetch;
  return { fetch: fake, sent };
}

async function run(argv: string[], answers: Answer[]) {
  const { fetch, sent } = wire(answers);
  const slept: number[] = [];
  const out: string[] = [];
  const err: string[] = [];
  const code = await main([...argv, '--api', API, '--as', ALICE], { out: (l) => out.push(l), err: (l) => err.push(l), env: {}, fetch, sleep: async (ms) => void slept.push(ms) });
  return { code, sent, slept, out, err };
}

describe('the CLI makes a request once, however often it must send it', () => {
  it('sends the same new key again after a gateway timeout and a dropped connection, and prints the request made', async () => {
    const r = await run(['request', 'production', 'ReadOnly', '60', 'Investigate', 'INC-7'], [{ status: 504, body: { message: 'Endpoint request timed out' } }, 'reset', { status: 201, body: MADE }]);

    expect(r.code).toBe(0);
    expect(r.sent).toHaveLength(3);
    expect(r.sent[0]!.key).toMatch(UUID);
    expect(r.sent.map((s) => [s.method, s.path, s.key, s.body])).toEqual(
      Array(3).fill(['POST', '/requests', r.sent[0]!.key, JSON.stringify({ account: 'production', profile: 'ReadOnly', durationMinutes: 60, reason: 'Investigate INC-7' })]),
    );
    expect(r.slept).toEqual([1000, 2000]);
    expect(r.out).toEqual([`Requested ${MADE.request.id}: PENDING (needs 1 approval(s) before 2026-11-24T10:00:00.000Z)`]);
  });

  it('gives up after three attempts, with the last error', async () => {
    const r = await run(['request', 'production', 'ReadOnly', '60', 'x'], [{ status: 503, body: { message: 'Service Unavailable' } }, { status: 503, body: { message: 'Service Unavailable' } }, { status: 503, body: { message: 'Service Unavailable' } }]);

    expect(r.code).toBe(1);
    expect(r.sent).toHaveLength(3);
    expect(r.slept).toEqual([1000, 2000]);
    expect(r.err.join('\n')).toContain('Service Unavailable');
  });

  it('does not repeat an answer that is final (409), and sends the key it is given', async () => {
    const r = await run(['extend', MADE.request.id, '30', 'Not', 'done', '--idempotency-key', 'ticket-INC-7-extend'], [{ status: 409, body: { error: 'CONFLICT', message: 'Only live access can be extended.' } }]);

    expect(r.code).toBe(1);
    expect(r.sent.map((s) => [s.path, s.key])).toEqual([[`/requests/${MADE.request.id}/extend`, 'ticket-INC-7-extend']]);
    expect(r.slept).toEqual([]);
  });

  it('sends no key where the API does not take one, and never repeats a decision', async () => {
    const r = await run(['approve', MADE.request.id], [{ status: 503, body: { message: 'Service Unavailable' } }]);

    expect(r.code).toBe(1);
    expect(r.sent.map((s) => [s.path, s.key])).toEqual([[`/requests/${MADE.request.id}/approve`, null]]);
  });
});

describe('the CLI repeats what the API says it did not do, after the wait the API names', () => {
  const REVOKED = { request: { id: MADE.request.id, status: 'REVOKED' } };
  const busy = { status: 409, body: { error: 'GRANT_BUSY', message: 'Another change to the same grant held it; the request is not revoked.' }, headers: { 'retry-after': '5', 'x-correlation-id': 'c0ffee00-1' } };

  it('repeats a revoke whose grant was busy after Retry-After, and prints the revoked request', async () => {
    const r = await run(['revoke', MADE.request.id, 'done'], [busy, { status: 200, body: REVOKED }]);

    expect(r.code).toBe(0);
    expect(r.sent.map((s) => [s.method, s.path, s.body])).toEqual(Array(2).fill(['POST', `/requests/${MADE.request.id}/revoke`, JSON.stringify({ comment: 'done' })]));
    expect(r.slept).toEqual([5000]);
    expect(r.err).toEqual([`… ${busy.body.message} (trying again in 5 s; attempt 1 of 3)`]);
    expect(r.out).toEqual([`${MADE.request.id}: REVOKED`]);
  });

  it('gives up after three busy answers with the API message, and caps a long Retry-After at 30 s', async () => {
    const long = { ...busy, headers: { 'retry-after': '600' } };
    const r = await run(['revoke', MADE.request.id], [long, long, long]);

    expect(r.code).toBe(1);
    expect(r.sent).toHaveLength(3);
    expect(r.slept).toEqual([30_000, 30_000]);
    expect(r.err.at(-1)).toBe(`Error 409 GRANT_BUSY: ${busy.body.message}`);
  });

  it('repeats a throttled approve, but never a plain conflict', async () => {
    const throttled = await run(['approve', MADE.request.id], [{ status: 429, body: { message: 'Too Many Requests' } }, { status: 200, body: REVOKED }]);
    expect(throttled.code).toBe(0);
    expect(throttled.sent).toHaveLength(2);
    expect(throttled.slept).toEqual([1000]);

    const conflict = await run(['revoke', MADE.request.id], [{ status: 409, body: { error: 'CONFLICT', message: 'The request is REVOKED.' }, headers: { 'retry-after': '5' } }]);
    expect(conflict.code).toBe(1);
    expect(conflict.sent).toHaveLength(1);
    expect(conflict.slept).toEqual([]);
  });

  it('waits a request out for the longer of its backoff and an HTTP-date Retry-After', async () => {
    const inTenSeconds = new Date(Date.now() + 10_500).toUTCString();
    const r = await run(['request', 'production', 'ReadOnly', '60', 'x'], [{ status: 429, body: { message: 'Slow down' }, headers: { 'retry-after': inTenSeconds } }, { status: 429, body: { message: 'Slow down' }, headers: { 'retry-after': '0' } }, { status: 201, body: MADE }]);

    expect(r.code).toBe(0);
    expect(r.slept[0]).toBeGreaterThanOrEqual(9000);
    expect(r.slept[0]).toBeLessThanOrEqual(11_000);
    expect(r.slept[1]).toBe(2000);
  });

  it('quotes the correlation id of a failure on the API side from its header', async () => {
    const r = await run(['show', MADE.request.id], [{ status: 502, body: { error: 'PROVISIONING_FAILED', message: 'IAM refused.' }, headers: { 'x-correlation-id': 'c0ffee00-2' } }]);

    expect(r.code).toBe(1);
    expect(r.err).toEqual(['Error 502 PROVISIONING_FAILED: IAM refused. (correlation id c0ffee00-2)']);
  });
});
