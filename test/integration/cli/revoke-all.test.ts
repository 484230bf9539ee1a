import { main } from '../../../src/cli/main';
import { ProvisioningError } from '../../../src/domain/errors';
import { provisionRequest } from '../../../src/domain/use-cases/provisionRequest';
import { call } from '../../helpers/events';
import { serveLocally, type LocalServer } from '../../helpers/cli-server';
import { harness, type Harness } from '../../helpers/harness';
import { RecordingProvisioner } from '../../helpers/recording-provisioner';
import { ARN, settingsWith } from '../../helpers/settings';

/*
 * `rolegate revoke-all`, a responder's tool in an incident: every live
 * request (ACTIVE, APPROVED, FAILED) of one principal or in one account that
 * the caller may revoke, each revoked through the API with the same comment.
 * CLI → loopback HTTP → the whole app → DynamoDB Local.
 */

const RESPONDER = 'arn:aws:sts::111111111111:assumed-role/security-oncall/jo';

let h: Harness;
let iam: RecordingProvisioner;
let server: LocalServer;
beforeEach(async () => {
  iam = new RecordingProvisioner();
  h = await harness({ localIdentity: true, provisioner: iam });
  server = await serveLocally(h.api);
});
afterEach(async () => {
  await server.close();
  await h.close();
});

async function cli(who: string, argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(['--api', server.url, '--as', who, ...argv], { out: (l) => out.push(l), err: (l) => err.push(l), env: {} });
  return { code, stdout: out.join('\n'), stderr: err.join('\n') };
}

async function requested(who: string, body: object): Promise<string> {
  const r = await call(h.api, { method: 'POST', path: '/requests', caller: who, body: { durationMinutes: 60, reason: 'work', ...body } });
  expect(r.status).toBe(201);
  return r.body.request.id as string;
}

/** Bob: live staging access and its extension, a failed grant and a pending request; Alice: live access of her own. */
async function bobAndAlice() {
  const active = await requested(ARN.bob, { account: 'staging', profile: 'ReadOnly' });
  expect((await provisionRequest(h.deps, active)).outcome).toBe('active');
  const extension = (await call(h.api, { method: 'POST', path: `/requests/${active}/extend`, caller: ARN.bob, body: { durationMinutes: 30, reason: 'more' } })).body.request.id as string;
  expect((await provisionRequest(h.deps, extension)).outcome).toBe('active');
  const failed = await requested(ARN.bob, { account: 'staging', profile: 'S3ReadOnly' });
  iam.failNext = [new ProvisioningError('IAM refused the role (AccessDenied)', 'AccessDenied', false)];
  expect((await provisionRequest(h.deps, failed)).outcome).toBe('failed');
  const pending = await requested(ARN.bob, { account: 'production', profile: 'ReadOnly' });
  const alices = await requested(ARN.alice, { account: 'staging', profile: 'ReadOnly' });
  expect((await provisionRequest(h.deps, alices)).outcome).toBe('active');
  return { active, extension, failed, pending, alices };
}

const statuses = async (ids: string[]) => Promise.all(ids.map(async (id) => (await h.requests.get(id))!.status));

it('lists with --dry-run, then revokes every live request of the principal (any case, any path), originals first, and nothing else', async () => {
  const { active, extension, failed, pending, alices } = await bobAndAlice();

  const dry = await cli(RESPONDER, ['revoke-all', 'laptop', 'stolen', '--principal', 'arn:aws:iam::111111111111:user/team/BOB', '--dry-run', '--json']);
  expect(dry.code).toBe(0);
  expect(JSON.parse(dry.stdout).map((r: { id: string }) => r.id)).toEqual([active, failed, extension]);
  expect(await statuses([active, extension, failed, pending, alices])).toEqual(['ACTIVE', 'ACTIVE', 'FAILED', 'PENDING', 'ACTIVE']);

  const run = await cli(RESPONDER, ['revoke-all', 'laptop', 'stolen', '--principal', 'arn:aws:iam::111111111111:user/team/BOB']);
  expect(run).toEqual({
    code: 0,
    // The extension went with the original: revoked by this run, not "ended already".
    stdout: [
      `${active}: REVOKED`,
      `${failed}: REVOKED`,
      `${extension}: REVOKED with ${active}, which it extends`,
      'Revoked 3 of 3 (1 with the request they extend); 0 had ended already; 0 not revoked.',
    ].join('\n'),
    stderr: '',
  });
  expect(await statuses([active, extension, failed, pending, alices])).toEqual(['REVOKED', 'REVOKED', 'REVOKED', 'PENDING', 'ACTIVE']);
  const revokedBy = (await h.requests.getDetail(active))!.events.filter((e) => e.action === 'REVOKED');
  expect(revokedBy).toMatchObject([{ actor: ARN.responder, comment: 'laptop stolen', source: { via: 'api', session: RESPONDER } }]);
});

it('counts an extension of an extension, listed before its parent, as revoked with the original that took it', async () => {
  const active = await requested(ARN.bob, { account: 'staging', profile: 'ReadOnly' });
  expect((await provisionRequest(h.deps, active)).outcome).toBe('active');
  const extend = async (id: string) => (await call(h.api, { method: 'POST', path: `/requests/${id}/extend`, caller: ARN.bob, body: { durationMinutes: 30, reason: 'more' } })).body.request.id as string;
  const first = await extend(active);
  expect((await provisionRequest(h.deps, first)).outcome).toBe('active');
  h.clock.advance(1000);
  const second = await extend(first);
  expect((await provisionRequest(h.deps, second)).outcome).toBe('active');

  const run = await cli(RESPONDER, ['revoke-all', 'incident', '--principal', ARN.bob]);
  expect(run.code).toBe(0);
  // Newest first among the extensions: the second before the first it extends, both gone with the original.
  expect(run.stdout.split('\n')).toEqual([
    `${active}: REVOKED`,
    `${second}: REVOKED with ${active}, which it extends`,
    `${first}: REVOKED with ${active}, which it extends`,
    'Revoked 3 of 3 (2 with the request they extend); 0 had ended already; 0 not revoked.',
  ]);
  expect(await statuses([active, first, second])).toEqual(['REVOKED', 'REVOKED', 'REVOKED']);
});

it('revokes by account, and reports what it could not revoke with exit 1', async () => {
  const { active, extension, failed, alices } = await bobAndAlice();

  const dry = await cli(RESPONDER, ['revoke-all', 'x', '--account', '222222222222', '--dry-run']);
  expect(dry.code).toBe(0);
  expect(dry.stdout.split('\n').slice(1).map((l) => l.split(/\s+/)[0])).toEqual([alices, active, failed, extension]);

  // IAM refuses the first removal (Alice's role): that one is named and left live, the rest go on.
  iam.failNext = [new ProvisioningError('IAM refused the change (AccessDenied)', 'AccessDenied', false)];
  const run = await cli(RESPONDER, ['revoke-all', 'account', 'breached', '--account', 'staging']);
  expect(run.code).toBe(1);
  expect(run.stdout.split('\n')).toEqual([
    expect.stringMatching(new RegExp(`^${alices}: not revoked: 502 PROVISIONING_FAILED: `)),
    `${active}: REVOKED`,
    `${failed}: REVOKED`,
    `${extension}: REVOKED with ${active}, which it extends`,
    'Revoked 3 of 4 (1 with the request they extend); 0 had ended already; 1 not revoked (repeat the command to try them again).',
  ]);
  expect(await statuses([alices, active])).toEqual(['ACTIVE', 'REVOKED']);
  // Repeated, it finishes what is left.
  expect(await cli(RESPONDER, ['revoke-all', 'account', 'breached', '--account', 'staging'])).toMatchObject({ code: 0, stdout: `${alices}: REVOKED\nRevoked 1 of 1; 0 had ended already; 0 not revoked.` });
});

it('warns when no live request it may see is in the account named (a typo reads as "nothing live"), naming those that have some', async () => {
  const { active } = await bobAndAlice();
  for (const account of ['stagign', '444444444444']) {
    const dry = await cli(RESPONDER, ['revoke-all', 'x', '--account', account, '--dry-run']);
    expect(dry).toEqual({
      code: 0,
      stdout: 'Nothing live matches.',
      stderr: `warning: no live request you may see is in an account named "${account}"; live requests are in staging (222222222222). Check the alias or id.`,
    });
  }
  // An account that has live requests, by alias in any case or by id: no warning.
  expect((await cli(RESPONDER, ['revoke-all', 'x', '--account', 'STAGING', '--dry-run'])).stderr).toBe('');
  expect((await cli(RESPONDER, ['revoke-all', 'x', '--account', '222222222222', '--dry-run'])).stderr).toBe('');
  // With --json, stdout is the answer alone and the warning one JSON line on stderr, keyed `warning` (errors are keyed `error`).
  const json = await cli(RESPONDER, ['revoke-all', 'x', '--account', 'stagign', '--dry-run', '--json']);
  expect(json).toMatchObject({ code: 0, stdout: '[]' });
  expect(JSON.parse(json.stderr)).toEqual({
    warning: 'ACCOUNT_NOT_SEEN',
    message: 'no live request you may see is in an account named "stagign"; live requests are in staging (222222222222). Check the alias or id.',
    liveAccounts: [{ alias: 'staging', id: '222222222222' }],
  });
  expect((await cli(RESPONDER, ['revoke-all', 'x', '--account', 'staging', '--dry-run', '--json'])).stderr).toBe('');
  expect(await statuses([active])).toEqual(['ACTIVE']);
});

it('never revokes everything: a principal or an account must be named', async () => {
  const { active } = await bobAndAlice();
  const run = await cli(RESPONDER, ['revoke-all', 'incident']);
  expect(run.code).toBe(2);
  expect(run.stderr).toMatch(/^revoke-all needs --principal ARN or --account ACCOUNT \(or both\): it never revokes everything\./);
  expect(await statuses([active])).toEqual(['ACTIVE']);
});

it('names a principal by its session, as CloudTrail does, and an account in any case; refuses a filter that cannot match', async () => {
  const workload = await requested(ARN.alice, { account: 'production', profile: 'ReadOnly', principalArn: ARN.appRole });
  expect((await call(h.api, { method: 'POST', path: `/requests/${workload}/approve`, caller: ARN.leadAnna, body: {} })).status).toBe(200);
  expect((await provisionRequest(h.deps, workload)).outcome).toBe('active');

  const bySession = await cli(RESPONDER, ['revoke-all', 'x', '--principal', 'arn:aws:sts::111111111111:assumed-role/app-billing/i-0abc', '--dry-run', '--json']);
  expect(JSON.parse(bySession.stdout).map((r: { id: string }) => r.id)).toEqual([workload]);
  const byAlias = await cli(RESPONDER, ['revoke-all', 'x', '--account', 'PRODUCTION', '--dry-run', '--json']);
  expect(JSON.parse(byAlias.stdout).map((r: { id: string }) => r.id)).toEqual([workload]);

  for (const [flag, value] of [['--principal', 'app-billing'], ['--principal', 'arn:aws:iam::111111111111:root'], ['--account', 'prod*']]) {
    const refused = await cli(RESPONDER, ['revoke-all', 'x', flag!, value!]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(new RegExp(`^${flag} must be `));
  }
  expect(await statuses([workload])).toEqual(['ACTIVE']);
});

it('counts a refusal that leaves access live as not revoked (exit 1), never as ended', async () => {
  // Two grants of one role; the later-ending one can only leave it by moving the role's end back, which needs its profile.
  const shorter = await requested(ARN.bob, { account: 'staging', profile: 'S3ReadOnly', durationMinutes: 30 });
  expect((await provisionRequest(h.deps, shorter)).outcome).toBe('active');
  h.clock.advance(1000);
  const longer = await requested(ARN.bob, { account: 'staging', profile: 'S3ReadOnly', durationMinutes: 120 });
  expect((await provisionRequest(h.deps, longer)).outcome).toBe('active');
  h.deps.settings = settingsWith((doc) => {
    doc.profiles = (doc.profiles as { name: string }[]).filter((p) => p.name !== 'S3ReadOnly');
    for (const rule of doc.rules as { profiles: string[] }[]) rule.profiles = rule.profiles.filter((p) => p !== 'S3ReadOnly');
  });

  const run = await cli(RESPONDER, ['revoke-all', 'incident', '--principal', ARN.bob]);
  expect(run.code).toBe(1);
  expect(run.stdout.split('\n')).toEqual([
    expect.stringMatching(new RegExp(`^${longer}: not revoked: 409 CONFLICT: Request ${longer} shares role `)),
    `${shorter}: REVOKED`,
    'Revoked 1 of 2; 0 had ended already; 1 not revoked (repeat the command to try them again).',
  ]);
  expect(await statuses([longer, shorter])).toEqual(['ACTIVE', 'REVOKED']);
});
