import { main, type Io } from '../../../src/cli/main';
import { ProvisioningError } from '../../../src/domain/errors';
import { provisionRequest } from '../../../src/domain/use-cases/provisionRequest';
import { serveLocally, type LocalServer } from '../../helpers/cli-server';
import { harness, type Harness } from '../../helpers/harness';
import type { RecordingProvisioner } from '../../helpers/recording-provisioner';
import { ARN, settingsWith } from '../../helpers/settings';

/*
 * The CLI end to end: main(argv, io) → node fetch → a real HTTP server on
 * loopback → the whole HTTP app (local identity header, as `npm start`) →
 * the use-cases → DynamoDB Local. Only stdout/stderr/sleep are injected.
 */

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/;

describe('rolegate CLI against the local HTTP API', () => {
  let h: Harness;
  let server: LocalServer;

  beforeAll(async () => {
    h = await harness({ localIdentity: true });
    server = await serveLocally(h.api);
  });
  afterAll(async () => {
    await server.close();
    await h.close();
  });

  async function run(argv: string[], extra: Partial<Io> = {}): Promise<Run> {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(argv, { out: (l) => out.push(l), err: (l) => err.push(l), env: {}, ...extra });
    return { code, stdout: out.join('\n'), stderr: err.join('\n') };
  }
  /** The CLI as `who`, pointed at the local server with the identity header. */
  const as = (who: string, argv: string[], extra: Partial<Io> = {}) => run(['--api', server.url, '--as', who, ...argv], extra);

  async function requestId(who: string, argv: string[]): Promise<string> {
    const r = await as(who, ['request', ...argv, '--json']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    return JSON.parse(r.stdout).id as string;
  }

  /** The one request `who` made with this reason (when the CLI printed no id to read). */
  async function idByReason(who: string, reason: string): Promise<string> {
    const mine = await h.requests.list({ requester: who, limit: 100 });
    const found = mine.items.filter((r) => r.reason === reason);
    expect(found).toHaveLength(1);
    return found[0]!.id;
  }

  describe('request', () => {
    it('creates a request from positional arguments and prints its id, state and approval deadline', async () => {
      const seenBefore = server.seen.length;
      const r = await as(ARN.alice, ['request', 'production', 'EC2Admin', '1h', 'Resize', 'the', 'web', 'fleet', '--ticket', 'OPS-42']);
      expect(r.code).toBe(0);
      expect(r.stderr).toBe('');
      const m = /^Requested (\S+): PENDING \(needs 2 approval\(s\) before 2026-03-02T10:00:00\.000Z\)$/.exec(r.stdout);
      expect(m).not.toBeNull();
      const stored = await h.requests.get(m![1]!);
      expect(stored).toMatchObject({
        status: 'PENDING',
        requester: ARN.alice,
        accountId: '333333333333',
        profile: 'EC2Admin',
        durationMinutes: 60,
        reason: 'Resize the web fleet',
        ticket: 'OPS-42',
      });
      // One HTTP call, named by the local identity header, with a JSON body.
      const sent = server.seen.slice(seenBefore);
      expect(sent).toHaveLength(1);
      expect(sent[0]).toMatchObject({ method: 'POST', path: '/requests' });
      expect(sent[0]!.headers['x-rolegate-principal']).toBe(ARN.alice);
      expect(sent[0]!.headers['content-type']).toBe('application/json');
      expect(sent[0]!.headers.authorization).toBeUndefined();
    });

    it('prints the created request as one JSON document with --json', async () => {
      const r = await as(ARN.alice, ['request', 'staging', 'ReadOnly', '1h30m', 'Investigate INC-7', '--json']);
      expect(r.code).toBe(0);
      const request = JSON.parse(r.stdout);
      expect(request).toMatchObject({ status: 'APPROVED', accountAlias: 'staging', profile: 'ReadOnly', durationMinutes: 90, reason: 'Investigate INC-7', approvalsRequired: 0 });
      expect(request.id).toMatch(ULID);
    });

    it('sends a 12-digit account as accountId and resolves it to its alias', async () => {
      const r = await as(ARN.alice, ['request', '333333333333', 'ReadOnly', '45m', 'Check', 'alarms', '--json']);
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ accountId: '333333333333', accountAlias: 'production', durationMinutes: 45, status: 'PENDING' });
    });

    it('requests for a workload role with --principal', async () => {
      const r = await as(ARN.alice, ['request', 'production', 'ReadOnly', '30', 'Billing', 'job', 'debug', '--principal', ARN.appRole, '--json']);
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ requester: ARN.alice, principalArn: ARN.appRole });
    });
  });

  describe('list', () => {
    const carol = 'arn:aws:iam::111111111111:user/carol';
    let first: string;
    let second: string;
    beforeAll(async () => {
      first = await requestId(carol, ['staging', 'ReadOnly', '30', 'First']);
      h.clock.advance(1000);
      second = await requestId(carol, ['production', 'S3ReadOnly', '2h', 'Second']);
    });

    it('prints the caller’s requests as an aligned table, newest first', async () => {
      const r = await as(carol, ['list']);
      expect(r.code).toBe(0);
      const lines = r.stdout.split('\n');
      expect(lines).toHaveLength(3);
      expect(lines[0]).toMatch(/^ID\s+STATUS\s+ACCOUNT\s+PROFILE\s+PRINCIPAL\s+MIN\s+CREATED$/);
      expect(lines[1]!.split(/\s+/)).toEqual([second, 'PENDING', 'production', 'S3ReadOnly', carol, '120', '2026-03-02T09:00:01.000Z']);
      expect(lines[2]!.split(/\s+/)).toEqual([first, 'APPROVED', 'staging', 'ReadOnly', carol, '30', '2026-03-02T09:00:00.000Z']);
      // Columns line up: every column starts at the same offset in every line.
      for (const heading of ['STATUS', 'ACCOUNT', 'PROFILE', 'PRINCIPAL', 'MIN', 'CREATED']) {
        const at = lines[0]!.indexOf(heading);
        expect(lines[1]![at - 1]).toBe(' ');
        expect(lines[1]![at]).not.toBe(' ');
        expect(lines[2]![at]).not.toBe(' ');
      }
    });

    it('pages with --limit and the printed --cursor', async () => {
      const page1 = await as(carol, ['list', '--limit', '1']);
      expect(page1.code).toBe(0);
      const more = /\nmore: (--limit 1 --cursor (\S+))$/.exec(page1.stdout);
      expect(more).not.toBeNull();
      expect(page1.stdout).toContain(second);
      expect(page1.stdout).not.toContain(first);
      // The options printed are the ones to give: the cursor continues this listing only.
      const page2 = await as(carol, ['list', ...more![1]!.split(' '), '--json']);
      expect(page2.code).toBe(0);
      expect(JSON.parse(page2.stdout).items.map((r: { id: string }) => r.id)).toEqual([first]);
      const viewed = await as(carol, ['list', '--view', 'mine', '--limit', '1']);
      expect(viewed.stdout).toMatch(/\nmore: --view mine --limit 1 --cursor mine\.ANY\.\S+$/);
    });

    it('filters by --status and prints (none) when nothing matches', async () => {
      const approved = await as(carol, ['list', '--status', 'APPROVED', '--json']);
      expect(JSON.parse(approved.stdout).items.map((r: { id: string }) => r.id)).toEqual([first]);
      const none = await as(carol, ['list', '--status', 'REVOKED']);
      expect(none).toEqual({ code: 0, stdout: '(none)', stderr: '' });
    });

    it('shows an approver what awaits their decision with --view awaiting', async () => {
      const r = await as(ARN.leadBen, ['list', '--view', 'awaiting', '--json']);
      expect(r.code).toBe(0);
      const ids = JSON.parse(r.stdout).items.map((x: { id: string }) => x.id);
      expect(ids).toContain(second);
      expect(ids).not.toContain(first);
    });
  });

  describe('approve, deny, cancel, show', () => {
    it('reaches APPROVED after two distinct approvers, printing the count in between', async () => {
      const id = await requestId(ARN.alice, ['production', 'EC2Admin', '60', 'Resize the fleet', '--ticket', 'OPS-42']);
      const one = await as(ARN.leadAnna, ['approve', id, 'ok', 'for', 'OPS-42']);
      expect(one).toEqual({ code: 0, stdout: `${id}: PENDING (1 of 2 approvals)`, stderr: '' });
      const two = await as(ARN.sreSam, ['approve', id]);
      expect(two).toEqual({ code: 0, stdout: `${id}: APPROVED`, stderr: '' });
      expect((await h.requests.get(id))!.status).toBe('APPROVED');
      expect(h.queue.ids).toContain(id);

      const shown = await as(ARN.alice, ['show', id]);
      expect(shown.code).toBe(0);
      const lines = shown.stdout.split('\n');
      expect(lines[0]).toBe(`${id}  APPROVED`);
      expect(lines[1]).toBe(`  ${ARN.alice} → EC2Admin in production (333333333333) for 60 min`);
      expect(lines[2]).toBe(`  requested by ${ARN.alice} at 2026-03-02T09:00:01.000Z: Resize the fleet [OPS-42]`);
      expect(lines).toContain('  access ends 2026-03-02T10:00:01.000Z');
      expect(lines).toContain(`    APPROVE by ${ARN.leadAnna} at 2026-03-02T09:00:01.000Z: ok for OPS-42`);
      expect(lines).toContain(`    APPROVE by ${ARN.sreSam} at 2026-03-02T09:00:01.000Z`);
      const audit = lines.slice(lines.indexOf('  audit:') + 1).map((l) => l.trim().split(/\s+/)[1]);
      expect(audit).toEqual(['REQUESTED', 'APPROVAL_RECORDED', 'APPROVED']);
    });

    it('shows the one session a personal grant admits (provisioner.personalGrants)', async () => {
      const before = h.deps.settings;
      h.deps.settings = settingsWith((doc) => {
        (doc.provisioner as Record<string, unknown>).personalGrants = true;
        (doc.rules as unknown[]).unshift({ id: 'sso-staging', requesters: ['arn:aws:iam::111111111111:role/AWSReservedSSO_Dev_*'], accounts: ['staging'], profiles: ['ReadOnly'], maxDurationMinutes: 60, autoApprove: true });
      });
      try {
        const caller = 'arn:aws:sts::111111111111:assumed-role/AWSReservedSSO_Dev_0a1b/Alice@Example.com';
        const id = await requestId(caller, ['staging', 'ReadOnly', '30', 'Read the queue']);
        const shown = await as(caller, ['show', id]);
        expect(shown.code).toBe(0);
        expect(shown.stdout.split('\n')[1]).toBe('  arn:aws:iam::111111111111:role/AWSReservedSSO_Dev_0a1b (only as Alice@Example.com) → ReadOnly in staging (222222222222) for 30 min');
        // A responder's incident listing tells whose each personal grant is.
        const listed = await as(ARN.responder, ['revoke-all', 'x', '--principal', caller, '--dry-run']);
        expect(listed.code).toBe(0);
        expect(listed.stdout.split('\n').filter((l) => l.startsWith(id))).toEqual([expect.stringContaining('arn:aws:iam::111111111111:role/AWSReservedSSO_Dev_0a1b (only as Alice@Example.com)')]);
      } finally {
        h.deps.settings = before;
      }
    });

    it('prints the whole detail as JSON with show --json', async () => {
      const id = await requestId(ARN.alice, ['production', 'ReadOnly', '60', 'Logs']);
      const r = await as(ARN.alice, ['show', id, '--json']);
      expect(r.code).toBe(0);
      const detail = JSON.parse(r.stdout);
      expect(detail.request).toMatchObject({ id, status: 'PENDING' });
      expect(detail.decisions).toEqual([]);
      expect(detail.events.map((e: { action: string }) => e.action)).toEqual(['REQUESTED']);
    });

    it('refuses a second approval by the same approver with the API’s 409', async () => {
      const id = await requestId(ARN.alice, ['production', 'EC2Admin', '60', 'Resize']);
      expect((await as(ARN.leadAnna, ['approve', id])).code).toBe(0);
      const again = await as(ARN.leadAnna, ['approve', id]);
      expect(again.code).toBe(1);
      expect(again.stdout).toBe('');
      expect(again.stderr).toMatch(/^Error 409 CONFLICT: /);
    });

    it('denies with the reason as the decision comment', async () => {
      const id = await requestId(ARN.alice, ['production', 'ReadOnly', '60', 'Logs']);
      const r = await as(ARN.leadAnna, ['deny', id, 'Not', 'during', 'the', 'freeze']);
      expect(r).toEqual({ code: 0, stdout: `${id}: DENIED`, stderr: '' });
      const detail = await as(ARN.alice, ['show', id, '--json']);
      expect(JSON.parse(detail.stdout).decisions).toEqual([expect.objectContaining({ decision: 'DENY', approver: ARN.leadAnna, comment: 'Not during the freeze' })]);
    });

    it('lets the requester cancel a pending request, once', async () => {
      const id = await requestId(ARN.alice, ['production', 'ReadOnly', '60', 'Logs']);
      expect(await as(ARN.alice, ['cancel', id])).toEqual({ code: 0, stdout: `${id}: CANCELLED`, stderr: '' });
      const again = await as(ARN.alice, ['cancel', id]);
      expect(again.code).toBe(1);
      expect(again.stderr).toMatch(/^Error 409 CONFLICT: /);
    });
  });

  describe('catalog', () => {
    it('prints what the caller may request as a table', async () => {
      const r = await as(ARN.alice, ['catalog']);
      expect(r.code).toBe(0);
      const lines = r.stdout.split('\n');
      expect(lines[0]).toMatch(/^ACCOUNT\s+ID\s+PROFILE\s+MAX MINUTES\s+MFA\s+APPROVALS\s+APPROVERS$/);
      const rows = lines.slice(1).map((l) => l.split(/\s{2,}/));
      expect(rows).toEqual([
        ['staging', '222222222222', 'ReadOnly', '480', 'no', 'auto'],
        ['staging', '222222222222', 'S3ReadOnly', '480', 'no', 'auto'],
        ['staging', '222222222222', 'EC2Admin', '120', 'required', '2', 'arn:aws:iam::111111111111:user/lead-*, arn:aws:iam::111111111111:user/sre-*'],
        ['production', '333333333333', 'ReadOnly', '240', 'no', '1', 'arn:aws:iam::111111111111:user/lead-*'],
        ['production', '333333333333', 'S3ReadOnly', '240', 'no', '1', 'arn:aws:iam::111111111111:user/lead-*'],
        ['production', '333333333333', 'EC2Admin', '120', 'required', '2', 'arn:aws:iam::111111111111:user/lead-*, arn:aws:iam::111111111111:user/sre-*'],
      ]);
    });

    it('prints the entries as JSON with --json', async () => {
      const r = await as(ARN.alice, ['catalog', '--json']);
      const entries = JSON.parse(r.stdout);
      expect(entries).toHaveLength(6);
      expect(entries[0]).toMatchObject({ accountAlias: 'staging', profile: 'ReadOnly', autoApprove: true, rule: 'staging-self-service' });
    });

    it('prints (none) for a caller no rule names', async () => {
      const r = await as('arn:aws:iam::444444444444:user/mallory', ['catalog']);
      expect(r).toEqual({ code: 0, stdout: '(none)', stderr: '' });
    });
  });

  describe('errors', () => {
    it('prints a refused self-approval as "Error 403 FORBIDDEN: …" and exits 1', async () => {
      const id = await requestId(ARN.alice, ['production', 'ReadOnly', '60', 'Logs']);
      const r = await as(ARN.alice, ['approve', id]);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr).toBe('Error 403 FORBIDDEN: Nobody may decide on their own request.');
    });

    it('prints API errors as one JSON object on stderr with --json', async () => {
      const id = await requestId(ARN.alice, ['production', 'ReadOnly', '60', 'Logs']);
      const r = await as(ARN.alice, ['approve', id, '--json']);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      expect(JSON.parse(r.stderr)).toMatchObject({ error: 'FORBIDDEN', status: 403, message: 'Nobody may decide on their own request.' });
    });

    it('lists the API’s field-level reasons under the error', async () => {
      const r = await as(ARN.alice, ['request', 'production', 'ReadOnly', '5', 'Too', 'short']);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe('Error 400 VALIDATION_FAILED: The duration must be at least 15 minutes.\n  - durationMinutes: below the minimum of 15');
    });

    it('reports a request that does not exist as a 404', async () => {
      const r = await as(ARN.alice, ['show', '01ARZ3NDEKTSV4RRFFQ69G5FAV']);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^Error 404 NOT_FOUND: /);
    });

    it.each([
      ['a missing argument', ['show'], 'show needs <id>.'],
      ['deny without a reason', ['deny', '01ARZ3NDEKTSV4RRFFQ69G5FAV'], 'deny needs <id> <reason…>.'],
      ['an unknown command', ['frobnicate'], 'Unknown command "frobnicate".'],
      ['an unknown option', ['list', '--bogus'], "Unknown option '--bogus'"],
      ['a duration that is not one', ['request', 'production', 'ReadOnly', '1.5h', 'Logs'], '"1.5h" is not a duration'],
      ['a negative duration', ['request', 'production', 'ReadOnly', '-5', 'Logs'], '"-5" is taken for an option: durations and limits are positive numbers.'],
      // Each of these was taken before, and did something else than meant.
      ['an empty --principal (for the caller, not the workload)', ['request', 'production', 'ReadOnly', '30', 'Logs', '--principal', ''], '--principal is empty: give it a value, or leave it out.'],
      ['a duration in two words (60 minutes for "30m Resize")', ['request', 'production', 'ReadOnly', '1h', '30m', 'Resize'], 'The reason starts with "30m", which reads as more of the duration: write the duration as one word (1h30m), or begin the reason otherwise.'],
      ['an option the command does not use', ['extend', '01ARZ3NDEKTSV4RRFFQ69G5FAV', '1h', 'more', '--ticket', 'OPS-1'], 'extend does not take --ticket.'],
      ['a comment to cancel, which records none', ['cancel', '01ARZ3NDEKTSV4RRFFQ69G5FAV', 'not', 'needed'], 'cancel takes 1 word after it; "not needed" is too many (a cancel records no comment).'],
      ['a view without --view (listed mine)', ['list', 'awaiting'], 'list takes no words after it; "awaiting" is too many (a view is --view VIEW).'],
      ['--as to an API elsewhere (the header a deployed API ignores)', ['list', '--api', 'https://rolegate.example.com'], '--as names the caller of the local run (npm start) on this machine; https://rolegate.example.com is not this machine'],
    ])('exits 2 with usage on stderr for %s, sending nothing', async (_what, argv, message) => {
      const before = server.seen.length;
      const r = await as(ARN.alice, argv);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain(message);
      // The reason, the command's own usage (an unknown one has none), where the rest is: not the whole help again.
      const lines = r.stderr.split('\n');
      expect(lines.at(-1)).toBe('Run `rolegate help` for every command and option.');
      expect(lines.filter((l) => l.startsWith('Usage: '))).toEqual(argv[0] === 'frobnicate' ? [] : [expect.stringMatching(new RegExp(`^Usage: rolegate ${argv[0]} `))]);
      expect(server.seen.length).toBe(before);
    });

    it('says which API it could not reach when nothing listens there', async () => {
      const closed = await serveLocally(h.api);
      const url = closed.url;
      await closed.close();
      const r = await run(['catalog', '--api', url, '--as', ARN.alice]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`Cannot reach the rolegate API at ${url}`);
    });
  });

  describe('request --wait', () => {
    it('shows progress until ACTIVE, then prints the console link and the CLI profile', async () => {
      const sleeps: number[] = [];
      let id = '';
      // Between polls, the world moves on: a lead approves, then the worker provisions.
      const steps = [
        async () => {
          const r = await as(ARN.leadAnna, ['approve', id, 'go']);
          expect(r.code).toBe(0);
        },
        async () => {
          expect((await provisionRequest(h.deps, id)).outcome).toBe('active');
        },
      ];
      const sleep = async (ms: number) => {
        sleeps.push(ms);
        const step = steps.shift();
        if (!step) throw new Error('waited after the request was already final');
        await step();
      };
      const out: string[] = [];
      const err: string[] = [];
      const code = await main(['--api', server.url, '--as', ARN.alice, 'request', 'production', 'ReadOnly', '2h', 'Look', 'at', 'the', 'logs', '--wait'], {
        out: (l) => {
          out.push(l);
          id ||= /^Requested (\S+):/.exec(l)?.[1] ?? '';
        },
        err: (l) => err.push(l),
        env: {},
        sleep,
      });
      expect(err).toEqual([]);
      expect(code).toBe(0);
      expect(sleeps).toEqual([2000, 2000]);
      const text = out.join('\n');
      const lines = text.split('\n');
      expect(lines.slice(0, 4)).toEqual([
        `Requested ${id}: PENDING (needs 1 approval(s) before 2026-03-02T11:00:01.000Z)`,
        '… PENDING (0 of 1 approvals)',
        '… APPROVED',
        '… ACTIVE',
      ]);
      const request = (await h.requests.get(id))!;
      expect(request.status).toBe('ACTIVE');
      const roleArn = request.access!.roleArn;
      expect(roleArn).toMatch(/^arn:aws:iam::333333333333:role\/rolegate\/\S+$/);
      const roleName = roleArn.slice(roleArn.lastIndexOf('/') + 1);
      expect(lines).toContain(`Role: ${roleArn}`);
      expect(lines).toContain(`Console: https://signin.aws.amazon.com/switchrole?roleName=rolegate%2F${roleName}&account=333333333333&displayName=production-ReadOnly`);
      expect(lines).toContain(`Until: ${request.endsAt}`);
      expect(text).toContain(['~/.aws/config:', '[profile production-ReadOnly]', `role_arn = ${roleArn}`, 'source_profile = default', 'duration_seconds = 3600'].join('\n'));
    });

    it('prints the final request as one JSON document with --json', async () => {
      let id = '';
      const r = await as(ARN.alice, ['request', 'staging', 'S3ReadOnly', '30', 'Read', 'a', 'bucket', '--wait', '--json'], {
        sleep: async () => {
          id = await idByReason(ARN.alice, 'Read a bucket');
          await provisionRequest(h.deps, id);
        },
      });
      expect(r.code).toBe(0);
      // stdout holds one document; the request made is named on stderr (a progress line) as soon as it is made.
      const final = JSON.parse(r.stdout);
      expect(r.stderr).toBe(`… Requested ${id}: APPROVED (access until ${final.endsAt} once provisioned)`);
      expect(final).toMatchObject({ id, status: 'ACTIVE', profile: 'S3ReadOnly' });
      expect(final.access.switchRoleUrl).toContain('displayName=staging-S3ReadOnly');
      expect(final.access.cliProfile).toMatch(/^\[profile staging-S3ReadOnly\]\n/);
    });

    it('stops and exits 1 when the request ends without access', async () => {
      let id = '';
      const r = await as(ARN.alice, ['request', 'production', 'ReadOnly', '60', 'Logs', '--wait'], {
        sleep: async () => {
          expect((await as(ARN.leadAnna, ['deny', id, 'No'])).code).toBe(0);
        },
        out: (l) => {
          id ||= /^Requested (\S+):/.exec(l)?.[1] ?? '';
        },
      });
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(`Request ${id} ended DENIED`);
    });

    it('with --json, prints the ended request on stdout and the reason on stderr, exiting 1', async () => {
      let id = '';
      const r = await as(ARN.alice, ['request', 'production', 'ReadOnly', '60', 'Denied', 'in', 'JSON', '--wait', '--json'], {
        sleep: async () => {
          id = await idByReason(ARN.alice, 'Denied in JSON');
          expect((await as(ARN.leadAnna, ['deny', id, 'No'])).code).toBe(0);
        },
      });
      expect(r.code).toBe(1);
      expect(JSON.parse(r.stdout)).toMatchObject({ id, status: 'DENIED' });
      const [progress, ended, ...rest] = r.stderr.split('\n');
      expect(progress).toMatch(new RegExp(`^… Requested ${id}: PENDING \\(needs 1 approval\\(s\\) before `));
      expect(JSON.parse(ended!)).toEqual({ error: 'NOT_ACTIVE', message: `Request ${id} ended DENIED`, requestId: id, status: 'DENIED' });
      expect(rest).toEqual([]);
    });
  });

  describe('request --wait through a slow approval and a flaky API', () => {
    /** Real fetch to the local server, but the next `n` polls (GETs) answer 503 as a deploy or a throttle might. */
    function flakyFetch(failures: { n: number }): typeof fetch {
      return (async (input: string | URL | Request, init?: RequestInit) => {
        if ((init?.method ?? 'GET') === 'GET' && failures.n > 0) {
          failures.n -= 1;
          return new Response(JSON.stringify({ error: 'SERVICE_UNAVAILABLE', message: 'Service Unavailable' }), { status: 503 });
        }
        return fetch(input, init);
      }) as typeof fetch;
    }

    it('polls less often while nothing changes, from 2 s up to 15 s, and at 2 s again after a change', async () => {
      const sleeps: number[] = [];
      let id = '';
      const r = await as(ARN.alice, ['request', 'production', 'ReadOnly', '60', 'Slow', 'approver', '--wait'], {
        out: (l) => {
          id ||= /^Requested (\S+):/.exec(l)?.[1] ?? '';
        },
        sleep: async (ms) => {
          sleeps.push(ms);
          // The approver answers at the 8th poll; the worker provisions two polls later.
          if (sleeps.length === 8) expect((await as(ARN.leadAnna, ['approve', id])).code).toBe(0);
          if (sleeps.length === 10) expect((await provisionRequest(h.deps, id)).outcome).toBe('active');
        },
      });
      expect(r.code).toBe(0);
      expect(sleeps).toEqual([2000, 3000, 4500, 6750, 10125, 15000, 15000, 15000, 2000, 3000]);
    });

    it('rides out a few failed polls (5xx) and still reaches ACTIVE', async () => {
      const failures = { n: 2 };
      let id = '';
      const sleeps: number[] = [];
      const r = await as(ARN.alice, ['request', 'production', 'ReadOnly', '60', 'Flaky', 'API', '--wait'], {
        fetch: flakyFetch(failures),
        out: (l) => {
          id ||= /^Requested (\S+):/.exec(l)?.[1] ?? '';
        },
        sleep: async (ms) => {
          sleeps.push(ms);
          // After two failed polls and one that answers PENDING, the approver and the worker act.
          if (sleeps.length === 3) {
            expect((await as(ARN.leadAnna, ['approve', id])).code).toBe(0);
            expect((await provisionRequest(h.deps, id)).outcome).toBe('active');
          }
        },
      });
      expect(r.code).toBe(0);
      expect(r.stderr.split('\n')).toEqual([
        '… Service Unavailable (still waiting; attempt 1 of 5)',
        '… Service Unavailable (still waiting; attempt 2 of 5)',
      ]);
      expect((await h.requests.get(id))!.status).toBe('ACTIVE');
      // Two failed polls slow it down; the first answer (PENDING, news to the CLI) brings it back to 2 s.
      expect(sleeps).toEqual([2000, 3000, 2000]);
    });

    it('gives up after 5 failed polls in a row, with the last error, and exits 1', async () => {
      const r = await as(ARN.alice, ['request', 'production', 'ReadOnly', '60', 'API', 'down', '--wait'], { fetch: flakyFetch({ n: 100 }), sleep: async () => {} });
      expect(r.code).toBe(1);
      const lines = r.stderr.split('\n');
      const id = /^Requested (\S+):/.exec(r.stdout)![1]!;
      expect(lines).toHaveLength(6);
      expect(lines[3]).toBe('… Service Unavailable (still waiting; attempt 4 of 5)');
      // The request made is named, so that a script can follow it rather than request again.
      expect(lines[4]).toBe(`Request ${id} was made; stopped waiting for it: follow it with \`rolegate show ${id}\`.`);
      expect(lines[5]).toBe('Error 503 SERVICE_UNAVAILABLE: Service Unavailable');
    });

    it('with --json, writes on stderr only progress lines (… ) and one JSON error naming the request made, when the wait gives up', async () => {
      const r = await as(ARN.alice, ['request', 'production', 'ReadOnly', '60', 'API', 'down', 'json', '--wait', '--json'], { fetch: flakyFetch({ n: 100 }), sleep: async () => {} });
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      const lines = r.stderr.split('\n');
      const id = /^… Requested (\S+):/.exec(lines[0]!)![1]!;
      expect(lines.filter((l) => !l.startsWith('… ')).map((l) => JSON.parse(l))).toEqual([{ error: 'SERVICE_UNAVAILABLE', status: 503, message: 'Service Unavailable', requestId: id }]);
    });

    it('does not retry a refusal (4xx): the answer will not change', async () => {
      const denied = (async (input: string | URL | Request, init?: RequestInit) =>
        (init?.method ?? 'GET') === 'GET' ? new Response(JSON.stringify({ error: 'FORBIDDEN', message: 'Not yours.' }), { status: 403 }) : fetch(input, init)) as typeof fetch;
      const sleeps: number[] = [];
      const r = await as(ARN.alice, ['request', 'production', 'ReadOnly', '60', 'Forbidden', 'poll', '--wait'], { fetch: denied, sleep: async (ms) => void sleeps.push(ms) });
      expect(r.code).toBe(1);
      const id = /^Requested (\S+):/.exec(r.stdout)![1]!;
      expect(r.stderr).toBe(`Request ${id} was made; stopped waiting for it: follow it with \`rolegate show ${id}\`.\nError 403 FORBIDDEN: Not yours.`);
      expect(sleeps).toEqual([]);
    });
  });

  describe('a failed provisioning', () => {
    it('ends --wait with the failure, shows it, and an approver’s retry brings the request to ACTIVE', async () => {
      const provisioner = h.deps.provisioner as RecordingProvisioner;
      let id = '';
      const r = await as(ARN.alice, ['request', 'production', 'S3ReadOnly', '60', 'Will', 'fail', '--wait'], {
        out: (l) => {
          id ||= /^Requested (\S+):/.exec(l)?.[1] ?? '';
        },
        sleep: async () => {
          expect((await as(ARN.leadBen, ['approve', id])).code).toBe(0);
          provisioner.failNext.push(new ProvisioningError('The provisioner role cannot be assumed.', 'AccessDenied', false));
          expect((await provisionRequest(h.deps, id)).outcome).toBe('failed');
        },
      });
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(`Request ${id} ended FAILED: The provisioner role cannot be assumed.`);

      const shown = await as(ARN.alice, ['show', id]);
      expect(shown.stdout.split('\n')).toContain('  FAILED: AccessDenied: The provisioner role cannot be assumed.');

      expect((await as(ARN.alice, ['retry', id])).stderr).toMatch(/^Error 403 FORBIDDEN: /);
      expect(await as(ARN.leadBen, ['retry', id, 'trust', 'fixed'])).toEqual({ code: 0, stdout: `${id}: APPROVED`, stderr: '' });
      expect((await provisionRequest(h.deps, id)).outcome).toBe('active');
      const detail = JSON.parse((await as(ARN.alice, ['show', id, '--json'])).stdout);
      expect(detail.request.status).toBe('ACTIVE');
      expect(detail.events.find((e: { action: string }) => e.action === 'RETRY_REQUESTED')).toMatchObject({ actor: ARN.leadBen, comment: 'trust fixed' });
    });
  });

  describe('extend and revoke', () => {
    it('asks to extend live access, then revokes it', async () => {
      const id = await requestId(ARN.alice, ['staging', 'ReadOnly', '60', 'Debug']);
      await provisionRequest(h.deps, id);
      const ext = await as(ARN.alice, ['extend', id, '30m', 'Still', 'debugging', '--json']);
      expect(ext.code).toBe(0);
      const extension = JSON.parse(ext.stdout);
      expect(extension).toMatchObject({ extendsRequestId: id, durationMinutes: 30, reason: 'Still debugging' });
      expect(extension.id).not.toBe(id);

      // A request is extended once: a second extension of it is refused, naming the one to extend.
      const again = await as(ARN.alice, ['extend', id, '15', 'More']);
      expect(again.code).toBe(1);
      expect(again.stderr).toMatch(new RegExp(`^Error 409 CONFLICT: Request ${id} already has extension ${extension.id} \\(APPROVED\\): extend that one`));
      // Auto-approved (staging-self-service): it says where access ends once provisioned, 15 minutes after the extension it extends.
      const human = await as(ARN.alice, ['extend', extension.id, '15', 'More']);
      expect(human.code).toBe(0);
      expect(human.stdout).toMatch(new RegExp(`^Extension requested: \\S+: APPROVED \\(access until ${new Date(Date.parse(extension.endsAt) + 15 * 60_000).toISOString()} once provisioned\\)$`));

      const live = (await as(ARN.alice, ['show', id])).stdout.split('\n');
      expect(live).toContain('  access ends 2026-03-02T10:00:01.000Z');
      expect(live.some((l) => l.startsWith('Console: https://'))).toBe(true);

      const revoked = await as(ARN.alice, ['revoke', id, 'done']);
      expect(revoked).toEqual({ code: 0, stdout: `${id}: REVOKED`, stderr: '' });
      // Ended: the role for the record, never a console link or a profile that no longer works.
      const ended = JSON.parse((await as(ARN.alice, ['show', id, '--json'])).stdout).request;
      const shown = (await as(ARN.alice, ['show', id])).stdout.split('\n');
      expect(shown).toContain(`  ended ${ended.endedAt} (its access was to end 2026-03-02T10:00:01.000Z)`);
      expect(shown).toContain(`Role: ${ended.access.roleArn} (no longer usable: the request ended ${ended.endedAt})`);
      expect(shown.filter((l) => /^(Console|Until|~\/\.aws\/config)/.test(l) || l.startsWith('[profile'))).toEqual([]);
      const detail = JSON.parse((await as(ARN.alice, ['show', id, '--json'])).stdout);
      expect(detail.events.find((e: { action: string }) => e.action === 'REVOKED')).toMatchObject({ actor: ARN.alice, comment: 'done' });
    });
  });
});
