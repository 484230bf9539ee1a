import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { RolegateClient, TimedOutError } from '../../../src/cli/client';
import { main } from '../../../src/cli/main';
import type { HttpResult } from '../../../src/handlers/http/types';
import { serveLocally, type LocalServer } from '../../helpers/cli-server';

/*
 * A call the API never answers ends after the client's timeout (200 ms here,
 * 30 s by default) and is reported as what it is: the API may have acted.
 * Real fetch against a loopback server that answers what each test scripts
 * and leaves `'silent'` calls hanging.
 */

const ALICE = 'arn:aws:iam::111111111111:user/alice';
const ID = '01KJNWP2NA4Z6K8N0Q5R7S9T1V';
const PENDING = { request: { id: ID, status: 'PENDING', approvals: [], approvalsRequired: 1, decisionDeadline: '2026-11-24T10:00:00.000Z' } };

type Answer = { status: number; body: unknown } | 'silent';

async function scripted(answers: Answer[]): Promise<LocalServer> {
  return serveLocally(async () => {
    const answer = answers.shift() ?? 'silent';
    if (answer === 'silent') return new Promise<HttpResult>(() => {});
    return { statusCode: answer.status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(answer.body) };
  });
}

describe('RolegateClient gives up on an API that does not answer', () => {
  it('reports no answer within the timeout as a timeout, not as an unreachable API', async () => {
    const server = await scripted(['silent']);
    try {
      const failure = new RolegateClient({ api: server.url, localPrincipal: ALICE, timeoutMs: 200 }).send('POST', '/requests', {});
      await expect(failure).rejects.toBeInstanceOf(TimedOutError);
      await expect(failure).rejects.toMatchObject({ method: 'POST', message: `No answer from the rolegate API at ${server.url} within 0.2 s.` });
    } finally {
      await server.close();
    }
  });

  it('times out an answer that stops halfway through its body', async () => {
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
      res.write('{"entries":');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const failure = new RolegateClient({ api: url, localPrincipal: ALICE, timeoutMs: 200 }).send('GET', '/catalog');
      await expect(failure).rejects.toBeInstanceOf(TimedOutError);
      await expect(failure).rejects.toThrow(`No answer from the rolegate API at ${url} within 0.2 s.`);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});

describe('the CLI reports a call that timed out as one that may have acted', () => {
  let server: LocalServer;
  afterEach(async () => server.close());

  async function run(argv: string[], answers: Answer[]) {
    server = await scripted(answers);
    const slept: number[] = [];
    const out: string[] = [];
    const err: string[] = [];
    const code = await main([...argv, '--api', server.url, '--as', ALICE], { out: (l) => out.push(l), err: (l) => err.push(l), env: {}, timeoutMs: 200, sleep: async (ms) => void slept.push(ms) });
    return { code, out, err, slept, sent: server.seen.map((s) => [s.method, s.path, s.headers['idempotency-key'] ?? null]) };
  }

  it('sends a decision once and says to look at the request, which the decision may have changed', async () => {
    const r = await run(['approve', ID, 'ok'], ['silent']);

    expect(r.code).toBe(1);
    expect(r.sent).toEqual([['POST', `/requests/${ID}/approve`, null]]);
    expect(r.out).toEqual([]);
    expect(r.err).toEqual([`Error: No answer from the rolegate API at ${server.url} within 0.2 s. The call may have taken effect: check with \`rolegate show ${ID}\`.`]);
  });

  it.each([
    ['request', ['request', 'production', 'ReadOnly', '60', 'Logs'], '/requests', 'The request may have been made: check with `rolegate list`.'],
    ['extend', ['extend', ID, '30', 'More'], `/requests/${ID}/extend`, 'The extension may have been requested: check with `rolegate list`.'],
  ])('sends %s three times with one Idempotency-Key, then says to list what was made', async (_command, argv, path, hint) => {
    const r = await run(argv, ['silent', 'silent', 'silent']);

    expect(r.code).toBe(1);
    const key = r.sent[0]![2];
    expect(key).toMatch(/^[0-9a-f-]{36}$/);
    expect(r.sent).toEqual(Array(3).fill(['POST', path, key]));
    expect(r.slept).toEqual([1000, 2000]);
    const noAnswer = `No answer from the rolegate API at ${server.url} within 0.2 s.`;
    expect(r.err).toEqual([
      `… ${noAnswer} (trying again in 1 s; attempt 1 of 3)`,
      `… ${noAnswer} (trying again in 2 s; attempt 2 of 3)`,
      // The key the CLI made up, to repeat the run with: the API then answers with what the last try made, if anything.
      `To get back what the last try may have made (never a second one), run the same command with --idempotency-key ${key}.`,
      `Error: ${noAnswer} ${hint}`,
    ]);
  });

  it('prints the request made when a later attempt of the same key is answered', async () => {
    const r = await run(['request', 'production', 'ReadOnly', '60', 'Logs'], ['silent', { status: 201, body: PENDING }]);

    expect(r.code).toBe(0);
    expect(r.sent).toHaveLength(2);
    expect(r.sent[1]).toEqual(r.sent[0]);
    expect(r.out).toEqual([`Requested ${ID}: PENDING (needs 1 approval(s) before 2026-11-24T10:00:00.000Z)`]);
  });

  it('with --json, reports every error as one JSON line with a stable code: a timeout (with its hint), a usage error', async () => {
    const timedOut = await run(['approve', ID, 'ok', '--json'], ['silent']);
    expect(timedOut.code).toBe(1);
    expect(timedOut.err.map((l) => JSON.parse(l))).toEqual([
      { error: 'TIMEOUT', message: `No answer from the rolegate API at ${server.url} within 0.2 s. The call may have taken effect: check with \`rolegate show ${ID}\`.` },
    ]);
    await server.close();

    const request = await run(['request', 'production', 'ReadOnly', '60', 'Logs', '--json'], ['silent', 'silent', 'silent']);
    expect(request.code).toBe(1);
    const key = request.sent[0]![2];
    // Progress lines, then one JSON error that carries the key to repeat the run with.
    expect(request.err.filter((l) => !l.startsWith('… ')).map((l) => JSON.parse(l))).toEqual([
      { error: 'TIMEOUT', message: `No answer from the rolegate API at ${server.url} within 0.2 s. The request may have been made: check with \`rolegate list\`.`, idempotencyKey: key },
    ]);
    await server.close();

    const usage = await run(['approve', '--json'], []);
    expect(usage.code).toBe(2);
    expect(usage.err.map((l) => JSON.parse(l))).toEqual([{ error: 'USAGE', message: 'approve needs <id>.' }]);
    await server.close();
    const unknown = await run(['list', '--json', '--nope'], []);
    expect(unknown.code).toBe(2);
    expect(unknown.err.map((l) => JSON.parse(l))).toEqual([{ error: 'USAGE', message: expect.stringContaining("Unknown option '--nope'") }]);
  });

  it('reports a read that timed out without a hint: it changed nothing', async () => {
    const r = await run(['show', ID], ['silent']);

    expect(r.code).toBe(1);
    expect(r.sent).toEqual([['GET', `/requests/${ID}`, null]]);
    expect(r.err).toEqual([`Error: No answer from the rolegate API at ${server.url} within 0.2 s.`]);
  });

  it('rides out polls of --wait that time out, as it does an unreachable API, and gives up after five', async () => {
    const r = await run(['request', 'production', 'ReadOnly', '60', 'Logs', '--wait'], [{ status: 201, body: PENDING }]);

    expect(r.code).toBe(1);
    expect(r.sent).toEqual([['POST', '/requests', expect.any(String)], ...Array(5).fill(['GET', `/requests/${ID}`, null])]);
    const noAnswer = `No answer from the rolegate API at ${server.url} within 0.2 s.`;
    expect(r.err).toEqual(
      [1, 2, 3, 4].map((n) => `… ${noAnswer} (still waiting; attempt ${n} of 5)`).concat(`Request ${ID} was made; stopped waiting for it: follow it with \`rolegate show ${ID}\`.`, `Error: ${noAnswer}`),
    );
  });
});
