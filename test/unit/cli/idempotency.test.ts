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
const MADE = { request: { id: '01KJNWP2NA4Z6K8N0Q5R7S9T1V', status: 'PENDING', approvalsRequired: 1, decisionDeadline: '2026-11-24T10:00:00.000Z' } };

type Answer = { status: number; body: unknown } | 'reset';

function wire(answers: Answer[]) {
  const sent: { method: string; path: string; key: string | null; body: string }[] = [];
  const fake = (async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = new URL(String(input));
    sent.push({ method: init?.method ?? 'GET', path: url.pathname, key: new Headers(init?.headers).get('idempotency-key'), body: String(init?.body) });
    const answer = answers.shift() ?? { status: 500, body: { error: 'INTERNAL' } };
    if (answer === 'reset') throw Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNRESET' } });
    return new Response(JSON.stringify(answer.body), { status: answer.status, headers: { 'content-type': 'application/json' } });
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
