import { main } from '../../../src/cli/main';

/*
 * What --api points at may not be rolegate, or may be broken: an answer
 * without what the CLI reads is reported as BAD_RESPONSE (exit 1), never as
 * a TypeError from deep in the printing. The fake fetch plays the wire.
 */

const API = 'http://127.0.0.1:3000';
const ALICE = 'arn:aws:iam::111111111111:user/alice';
const ID = '01KJNWP2NA4Z6K8N0Q5R7S9T1V';

function wire(answers: { status: number; raw: string }[]) {
  const sent: string[] = [];
  const fake = (async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    sent.push(`${init?.method ?? 'GET'} ${new URL(String(input)).pathname}`);
    const answer = answers.shift()!;
    return new Response(answer.raw, { status: answer.status, headers: { 'content-type': 'application/json' } });
  }) as typeof fetch;
  return { fetch: fake, sent };
}

async function run(argv: string[], ...answers: { status: number; raw: string }[]) {
  const { fetch, sent } = wire(answers);
  const out: string[] = [];
  const err: string[] = [];
  const code = await main([...argv, '--api', API, '--as', ALICE], { out: (l) => out.push(l), err: (l) => err.push(l), env: {}, fetch, sleep: async () => {} });
  return { code, out, err, sent };
}

const json = (status: number, body: unknown) => ({ status, raw: JSON.stringify(body) });

describe('the CLI refuses an answer it cannot read', () => {
  const commands = [
    ['request', 'production', 'ReadOnly', '60', 'Logs'],
    ['extend', ID, '30', 'More'],
    ['approve', ID],
    ['list'],
    ['show', ID],
    ['catalog'],
  ];

  it.each(commands.flatMap((argv) => [
    [argv, '{}', 'a body that is not the answer the CLI expects'],
    [argv, 'null', 'a body that is not the answer the CLI expects'],
    [argv, '', 'no body'],
  ]))('%j answered 200 with %j is a BAD_RESPONSE, sent once', async (argv, raw, what) => {
    const r = await run(argv, { status: 200, raw });

    expect(r.code).toBe(1);
    expect(r.sent).toHaveLength(1);
    expect(r.out).toEqual([]);
    expect(r.err).toEqual([`Error 200 BAD_RESPONSE: The API answered 200 with ${what}.`]);
  });

  it.each([
    ['a list whose items are no objects', ['list'], { items: ['x'] }],
    ['a request without an id', ['approve', ID], { request: { status: 'APPROVED' } }],
    ['a pending request without its approvals', ['approve', ID], { request: { id: ID, status: 'PENDING' } }],
    ['a detail without its events', ['show', ID], { request: { id: ID, status: 'DENIED' }, decisions: [] }],
    ['a catalog entry without approvers', ['catalog'], { entries: [{ accountAlias: 'production', profile: 'ReadOnly' }] }],
  ])('refuses %s', async (_what, argv, body) => {
    const r = await run(argv, json(200, body));

    expect(r.code).toBe(1);
    expect(r.err).toEqual(['Error 200 BAD_RESPONSE: The API answered 200 with a body that is not the answer the CLI expects.']);
  });

  it('says so in JSON on stderr with --json, printing nothing on stdout', async () => {
    const r = await run(['list', '--json'], json(200, {}));

    expect(r.code).toBe(1);
    expect(r.out).toEqual([]);
    expect(r.err.map((l) => JSON.parse(l))).toEqual([{ error: 'BAD_RESPONSE', status: 200, message: 'The API answered 200 with a body that is not the answer the CLI expects.' }]);
  });

  it('ends --wait when the request turns ACTIVE without its access details', async () => {
    const pending = { request: { id: ID, status: 'PENDING', approvals: [], approvalsRequired: 1, decisionDeadline: '2026-11-24T10:00:00.000Z' } };
    const r = await run(['request', 'production', 'ReadOnly', '60', 'Logs', '--wait'], json(201, pending), json(200, { request: { id: ID, status: 'ACTIVE' } }));

    expect(r.code).toBe(1);
    expect(r.sent).toEqual(['POST /requests', `GET /requests/${ID}`]);
    expect(r.err).toEqual([`Request ${ID} was made; stopped waiting for it: follow it with \`rolegate show ${ID}\`.`, 'Error 200 BAD_RESPONSE: The API answered 200 with a body that is not the answer the CLI expects.']);
  });

  it.each([
    ['a string', 'durationMinutes: too short'],
    ['an object', { field: 'durationMinutes', reason: 'too short' }],
    ['a list holding null', [null]],
    ['a list of reasons that are no text', [{ field: 'durationMinutes', reason: 15 }]],
  ])('reports a 400 whose details are %s as BAD_RESPONSE, with its message', async (_what, details) => {
    const r = await run(['request', 'production', 'ReadOnly', '5', 'Logs'], json(400, { error: 'VALIDATION_FAILED', message: 'The duration must be at least 15 minutes.', details }));

    expect(r.code).toBe(1);
    expect(r.err).toEqual(['Error 400 BAD_RESPONSE: The API answered 400 with details that are not a list of reasons: The duration must be at least 15 minutes.']);
  });
});

describe('the CLI prints values of unexpected types as text', () => {
  it('lays out list items holding numbers or missing fields', async () => {
    const r = await run(['list'], json(200, { items: [{ id: 7, status: 'PENDING', durationMinutes: 60 }] }));

    expect(r.code).toBe(0);
    const head = 'ID  STATUS   ACCOUNT  PROFILE  PRINCIPAL  MIN  CREATED';
    expect(r.out).toEqual([[head, `${'7   PENDING'.padEnd(head.indexOf('MIN'))}60`].join('\n')]);
  });

  it('prints audit events whose action is not text', async () => {
    const detail = { request: { id: ID, status: 'DENIED' }, decisions: [], events: [{ at: '2026-11-24T09:00:00.000Z', action: 5, actor: ALICE }] };
    const r = await run(['show', ID], json(200, detail));

    expect(r.code).toBe(0);
    expect(r.out[0]!.split('\n').at(-1)).toBe(`    2026-11-24T09:00:00.000Z  5                  ${ALICE}`);
  });
});
