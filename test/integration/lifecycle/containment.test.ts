import { IAMClient } from '@aws-sdk/client-iam';
import { STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import type { AccessRequest } from '../../../src/domain/model';
import { desiredRole, policySize } from '../../../src/domain/provisioning/documents';
import { grantTargetFor, specFor } from '../../../src/domain/grants';
import { createRequest } from '../../../src/domain/use-cases/createRequest';
import { revokeRequest } from '../../../src/domain/use-cases/endAccess';
import { provisionRequest } from '../../../src/domain/use-cases/provisionRequest';
import { reconcile } from '../../../src/domain/use-cases/reconcile';
import { sweep } from '../../../src/domain/use-cases/sweep';
import { isIamWrite, routeAwsMocks, type FakeRole } from '../../helpers/fault-iam';
import { awsError } from '../../helpers/fault-schedule';
import { faultWorld, type FaultWorld } from '../../helpers/fault-world';
import { ARN, settingsWith } from '../../helpers/settings';

/*
 * An incident responder contains a grant role by hand: AWSDenyAll attached,
 * a Deny added to its trust and to its profile policy, the console's "Revoke
 * active sessions". Another request then leaves the role it shares, and
 * rolegate rewrites the role for those that stay. That rewrite must narrow
 * the role and keep every Deny it did not write, as reconciliation does.
 * (Found by a review: the rewrite detached AWSDenyAll and wrote the trust
 * and the profile policy over the responder's Denies, so the role worked
 * again.) Through the real IamProvisioner against the in-memory IAM, on
 * DynamoDB Local.
 */

const iamMock = mockClient(IAMClient);
const stsMock = mockClient(STSClient);
const api = (arn: string) => ({ arn, via: 'api' as const });
const DENY_ALL = 'arn:aws:iam::aws:policy/AWSDenyAll';
const trustDeny = { Sid: 'IncidentNoAssume', Effect: 'Deny', Principal: { AWS: '*' }, Action: 'sts:AssumeRole' };
const profileDeny = { Sid: 'IncidentNoS3', Effect: 'Deny', Action: 's3:*', Resource: '*' };
const revokeOlderSessions = { Version: '2012-10-17', Statement: [{ Effect: 'Deny', Action: ['*'], Resource: ['*'], Condition: { DateLessThan: { 'aws:TokenIssueTime': '2026-03-02T09:30:00.000Z' } } }] };

let w: FaultWorld;
beforeEach(async () => {
  routeAwsMocks(iamMock, stsMock);
  w = await faultWorld(
    settingsWith((doc) => {
      (doc.provisioner as Record<string, unknown>).mode = 'aws';
      (doc.provisioner as Record<string, unknown>).identityRoleArn = 'arn:aws:iam::111111111111:role/rolegate-identity-granter';
      (doc.provisioner as Record<string, unknown>).identityExternalId = 'rolegate-identity-5b1e';
    }),
  );
});
afterEach(async () => {
  await w.close();
});

/** S3ReadOnly in staging (auto-approved), provisioned. */
async function active(minutes: number): Promise<AccessRequest> {
  const r = await createRequest(w.h.deps, api(ARN.alice), { account: 'staging', profile: 'S3ReadOnly', durationMinutes: minutes, reason: 'read the logs' });
  await provisionRequest(w.h.deps, r.id);
  return (await w.h.requests.get(r.id))!;
}
const roleName = (r: AccessRequest) => r.grantKey!.split('#')[1]!;
const roleOf = (r: AccessRequest): FakeRole => w.aws.role(r.accountId, roleName(r))!;
const statements = (json: string) => (JSON.parse(json) as { Statement: unknown[] }).Statement;

/** A responder contains the role: AWSDenyAll attached, a Deny added to its trust and to its profile policy, the console's "Revoke active sessions". */
function contain(r: AccessRequest): void {
  w.aws.tamper(r.accountId, roleName(r), (role) => {
    role.attached.push(DENY_ALL);
    role.trust = JSON.stringify({ ...JSON.parse(role.trust), Statement: [...statements(role.trust), trustDeny] });
    role.inline['rolegate-profile'] = JSON.stringify({ ...JSON.parse(role.inline['rolegate-profile']!), Statement: [...statements(role.inline['rolegate-profile']!), profileDeny] });
    role.inline.AWSRevokeOlderSessions = JSON.stringify(revokeOlderSessions);
  });
}

/** The example in aws mode, with a change to one of its profiles. */
const awsWith = (patch: (profiles: Array<Record<string, unknown>>) => void) =>
  settingsWith((doc) => {
    Object.assign(doc.provisioner as Record<string, unknown>, { mode: 'aws', identityRoleArn: 'arn:aws:iam::111111111111:role/rolegate-identity-granter', identityExternalId: 'rolegate-identity-5b1e' });
    patch(doc.profiles as Array<Record<string, unknown>>);
  });
const s3ReadOnly = (profiles: Array<Record<string, unknown>>) => profiles.find((p) => p.name === 'S3ReadOnly')!;

/** Each IAM write sent while `work` runs, with what it sent. */
async function iamWritesDuring(work: () => Promise<unknown>): Promise<Array<{ command: string; input: Record<string, unknown> }>> {
  const writes: Array<{ command: string; input: Record<string, unknown> }> = [];
  w.aws.onCall = (service, command, input) => {
    if (service === 'iam' && isIamWrite(command)) writes.push({ command, input: input as Record<string, unknown> });
  };
  try {
    await work();
  } finally {
    w.aws.onCall = undefined;
  }
  return writes;
}

it("keeps a responder's Denies on a shared role while a request leaving it narrows the role for the one that stays", async () => {
  const short = await active(60);
  const long = await active(180);
  expect(roleName(short)).toBe(roleName(long));
  contain(short);

  // The later one leaves: the role's end moves back to the earlier one's.
  expect((await revokeRequest(w.h.deps, api(ARN.responder), long.id, 'incident')).status).toBe('REVOKED');

  const desired = desiredRole(specFor(w.h.deps.settings, grantTargetFor(w.h.deps.settings, short), { [short.id]: short.endsAt! }));
  const role = roleOf(short);
  expect(role.attached.sort()).toEqual([...desired.managedPolicyArns, DENY_ALL].sort());
  expect(statements(role.trust)).toEqual([...desired.trustPolicy.Statement, trustDeny]);
  expect(statements(role.inline['rolegate-profile']!)).toEqual([...desired.inlinePolicy.Statement, profileDeny]);
  expect(JSON.parse(role.inline.AWSRevokeOlderSessions!)).toEqual(revokeOlderSessions);
  // The narrowing took: the trust and the profile policy end at the remaining request's end.
  expect(role.trust).toContain(short.endsAt!);
  expect(role.trust).not.toContain(long.endsAt!);

  // Reconciliation, even in repair mode, reads the contained role as what a write of the grant leaves: no drift, nothing written.
  const before = roleOf(short);
  w.h.deps.settings = settingsWith((doc) => {
    Object.assign(doc.provisioner as Record<string, unknown>, { mode: 'aws', identityRoleArn: 'arn:aws:iam::111111111111:role/rolegate-identity-granter', identityExternalId: 'rolegate-identity-5b1e', driftAction: 'repair' });
  });
  let drift: Awaited<ReturnType<typeof reconcile>> = [];
  const calls = await w.schedule.record(async () => {
    drift = await reconcile(w.h.deps);
  });
  expect(drift).toEqual([]);
  expect(calls.filter((c) => c.service === 'iam' && isIamWrite(c.command))).toEqual([]);
  expect(roleOf(short)).toEqual(before);
});

it('locks a shared role down, rather than leave it wider or longer than its grant, when what it must keep would pass an IAM limit; the leaving request still ends, and rolegate leaves the lock', async () => {
  const short = await active(60);
  const long = await active(180);
  const padding = padTrustPastTheLimit(short);

  expect((await revokeRequest(w.h.deps, api(ARN.responder), long.id, 'incident')).status).toBe('REVOKED');

  // Locked: the trust admits nobody, the padding kept beside the lock; the managed policy is off; the profile policy stays.
  const lock = { Sid: 'RolegateLockedDown', Effect: 'Deny', Principal: { AWS: '*' }, Action: 'sts:AssumeRole' };
  const locked = roleOf(short);
  expect(statements(locked.trust)).toEqual([lock, padding]);
  expect(locked.attached).toEqual([]);
  expect(Object.keys(locked.inline)).toEqual(['rolegate-profile']);
  // The leaving request's trail lists the lockdown's writes, in the order sent: what allowed came off, then the lock.
  const removed = (await w.h.requests.getDetail(long.id))!.events.filter((e) => e.action === 'ACCESS_REMOVED');
  expect(removed).toEqual([expect.objectContaining({ data: { roleDeleted: false, stillCoveredBy: [short.id], calls: ['DetachRolePolicy', 'UpdateAssumeRolePolicy'], roleNotRewritten: expect.stringContaining('locked down') } })]);

  // A request joining the role fails, and nothing on the role moves: nobody is admitted until a person takes the lock out.
  const joining = await createRequest(w.h.deps, api(ARN.alice), { account: 'staging', profile: 'S3ReadOnly', durationMinutes: 30, reason: 'read the logs' });
  await provisionRequest(w.h.deps, joining.id);
  expect(await w.h.requests.get(joining.id)).toMatchObject({ status: 'FAILED', failure: { code: 'RoleLockedDown', retryable: false } });
  expect(roleOf(short)).toEqual(locked);
  // Reconciliation, in repair mode too, reports it and leaves it.
  w.h.deps.settings = settingsWith((doc) => {
    Object.assign(doc.provisioner as Record<string, unknown>, { mode: 'aws', identityRoleArn: 'arn:aws:iam::111111111111:role/rolegate-identity-granter', identityExternalId: 'rolegate-identity-5b1e', driftAction: 'repair' });
  });
  expect(await reconcile(w.h.deps)).toEqual([expect.objectContaining({ roleName: roleName(short), kind: 'trust-changed', detail: expect.stringContaining('the role is locked down'), repaired: false })]);
  expect(roleOf(short)).toEqual(locked);
  // The last request to end removes the role as usual.
  w.h.clock.advance(61 * 60_000);
  await sweep(w.h.deps);
  expect((await w.h.requests.get(short.id))!.status).toBe('EXPIRED');
  expect(w.aws.role(short.accountId, roleName(short))).toBeUndefined();
});

/**
 * Someone with IAM write on the role shortened rolegate's grant statement (no end, no conditions) and padded
 * the trust with a Deny: IAM took it, but rolegate's own statement beside that Deny would not fit the 2,048
 * characters, so the next change to the role locks it down. Returns the padding statement.
 */
function padTrustPastTheLimit(r: AccessRequest): Record<string, unknown> {
  const grant = { Sid: 'RolegateGrant', Effect: 'Allow', Principal: { AWS: ARN.alice }, Action: 'sts:AssumeRole' };
  const names: string[] = [];
  const padded = () => ({ Effect: 'Deny', Principal: { AWS: [...names] }, Action: 'sts:AssumeRole' });
  const desired = desiredRole(specFor(w.h.deps.settings, grantTargetFor(w.h.deps.settings, r), { [r.id]: r.endsAt! }));
  while (policySize({ ...desired.trustPolicy, Statement: [...desired.trustPolicy.Statement, padded()] }) <= 2048) names.push(`arn:aws:iam::111111111111:user/padding-${names.length}`);
  const live = { Version: '2012-10-17', Statement: [grant, padded()] };
  expect(policySize(live)).toBeLessThanOrEqual(2048);
  w.aws.tamper(r.accountId, roleName(r), (role) => {
    role.trust = JSON.stringify(live);
  });
  return padded();
}

const LOCKDOWN_WRITES = ['DetachRolePolicy', 'UpdateAssumeRolePolicy'];
const eventsOf = async (id: string, action: string) => (await w.h.requests.getDetail(id))!.events.filter((e) => e.action === action);

it('lists a lockdown once on the trail when the grant item cannot be saved after it: on the failed attempt, not again on the one that finishes', async () => {
  const short = await active(60);
  const long = await active(180);
  padTrustPastTheLimit(short);

  // The lockdown's writes land; saving the grant without the leaving request fails (DynamoDB, its retries spent).
  w.schedule.arm({ point: { service: 'dynamodb', command: 'PutCommand', nth: 1 }, kind: { name: 'InternalServerError', outcome: 'throw', effect: 'before', times: 1, error: () => awsError('InternalServerError', 'Internal server error', 500) } });
  await expect(revokeRequest(w.h.deps, api(ARN.responder), long.id, 'incident')).rejects.toThrow('Internal server error');
  expect(w.schedule.fired).toHaveLength(1);
  w.schedule.disarm();
  expect((await w.h.requests.get(long.id))!.status).toBe('ACTIVE');
  expect((await eventsOf(long.id, 'ACCESS_REMOVAL_ATTEMPT_FAILED')).map((e) => e.data)).toEqual([{ writesBeforeError: LOCKDOWN_WRITES }]);

  // Repeated, the revoke finds the role locked and writes nothing more to it: its ACCESS_REMOVED lists no write.
  expect((await revokeRequest(w.h.deps, api(ARN.responder), long.id, 'incident')).status).toBe('REVOKED');
  expect((await eventsOf(long.id, 'ACCESS_REMOVED')).map((e) => e.data)).toEqual([
    { roleDeleted: false, stillCoveredBy: [short.id], calls: [], roleNotRewritten: expect.stringContaining('locked down') },
  ]);
});

it('fails a request whose own grant locks the role down, and lists the lockdown on its trail', async () => {
  const short = await active(60);
  padTrustPastTheLimit(short);

  const joining = await createRequest(w.h.deps, api(ARN.alice), { account: 'staging', profile: 'S3ReadOnly', durationMinutes: 30, reason: 'read the logs' });
  await provisionRequest(w.h.deps, joining.id);

  expect(await w.h.requests.get(joining.id)).toMatchObject({ status: 'FAILED', failure: { code: 'RoleLockedDown', retryable: false } });
  // Its attempt wrote the lockdown; its undo found the role locked and left it, for the request still on it.
  expect((await eventsOf(joining.id, 'PROVISIONING_FAILED')).map((e) => e.data)).toEqual([
    expect.objectContaining({ writesBeforeError: LOCKDOWN_WRITES, cleanup: 'done', roleDeleted: false, stillCoveredBy: [short.id], calls: [], roleNotRewritten: expect.stringContaining('locked down') }),
  ]);
  expect(statements(roleOf(short).trust)[0]).toEqual({ Sid: 'RolegateLockedDown', Effect: 'Deny', Principal: { AWS: '*' }, Action: 'sts:AssumeRole' });
});

it("keeps a responder's Denies when a request with a later end joins the contained role, which widens it (its trust written last)", async () => {
  const short = await active(60);
  contain(short);
  const later = await active(180);
  expect(roleName(later)).toBe(roleName(short));

  const desired = desiredRole(specFor(w.h.deps.settings, grantTargetFor(w.h.deps.settings, short), { [short.id]: short.endsAt!, [later.id]: later.endsAt! }));
  const role = roleOf(short);
  expect(role.trust).toContain(later.endsAt!);
  expect(statements(role.trust)).toEqual([...desired.trustPolicy.Statement, trustDeny]);
  expect(statements(role.inline['rolegate-profile']!)).toEqual([...desired.inlinePolicy.Statement, profileDeny]);
  expect(role.attached.sort()).toEqual([...desired.managedPolicyArns, DENY_ALL].sort());
  expect(JSON.parse(role.inline.AWSRevokeOlderSessions!)).toEqual(revokeOlderSessions);
});

it("keeps a responder's Denies in the profile policy that holds the role while its permissions boundary is swapped", async () => {
  const OLD_BOUNDARY = 'arn:aws:iam::aws:policy/PowerUserAccess';
  const NEW_BOUNDARY = 'arn:aws:iam::aws:policy/ReadOnlyAccess';
  w.h.deps.settings = awsWith((profiles) => void (s3ReadOnly(profiles).permissionsBoundaryArn = OLD_BOUNDARY));
  const short = await active(60);
  expect(roleOf(short).boundary).toBe(OLD_BOUNDARY);
  contain(short);
  w.h.deps.settings = awsWith((profiles) => void (s3ReadOnly(profiles).permissionsBoundaryArn = NEW_BOUNDARY));

  let later: AccessRequest | undefined;
  const writes = await iamWritesDuring(async () => (later = await active(180)));

  // The hold (nothing allowed while the boundary changes) goes first, with the responder's Deny beside it, so a run cut
  // short after it leaves the Deny on the role for the next one to keep.
  const hold = writes.find((c) => c.command === 'PutRolePolicy')!;
  const held = statements(decodeURIComponent(hold.input.PolicyDocument as string));
  expect(held[0]).toMatchObject({ Sid: 'RolegateProfileChanging', Effect: 'Deny' });
  expect(held).toContainEqual(profileDeny);
  expect(writes.map((c) => c.command).indexOf('PutRolePolicy')).toBeLessThan(writes.map((c) => c.command).indexOf('PutRolePermissionsBoundary'));
  const desired = desiredRole(specFor(w.h.deps.settings, grantTargetFor(w.h.deps.settings, short), { [short.id]: short.endsAt!, [later!.id]: later!.endsAt! }));
  const role = roleOf(short);
  expect(role.boundary).toBe(NEW_BOUNDARY);
  expect(statements(role.inline['rolegate-profile']!)).toEqual([...desired.inlinePolicy.Statement, profileDeny]);
});

it('locks the role down before any other write when the kept Denies take its profile policy past IAM\'s 10,240 characters, and leaves that policy, Allows and all', async () => {
  const allowList = { Effect: 'Allow', Action: 's3:ListBucket', Resource: 'arn:aws:s3:::app-*' };
  w.h.deps.settings = awsWith((profiles) => {
    const p = s3ReadOnly(profiles);
    p.inlinePolicy = { ...(p.inlinePolicy as Record<string, unknown>), Statement: [allowList, ...((p.inlinePolicy as { Statement: unknown[] }).Statement)] };
  });
  const short = await active(60);
  const long = await active(180);
  // A responder's Deny of many buckets, which fits beside the profile policy as it is...
  const buckets: string[] = [];
  const bigDeny = () => ({ Sid: 'IncidentBuckets', Effect: 'Deny', Action: 's3:*', Resource: [...buckets] });
  const live = () => ({ ...JSON.parse(roleOf(short).inline['rolegate-profile']!), Statement: [...statements(roleOf(short).inline['rolegate-profile']!), bigDeny()] });
  while (policySize(live()) <= 10_240 - 60) buckets.push(`arn:aws:s3:::bucket-${buckets.length}/*`);
  expect(policySize(live())).toBeLessThanOrEqual(10_240);
  const before = live();
  w.aws.tamper(short.accountId, roleName(short), (role) => void (role.inline['rolegate-profile'] = JSON.stringify(before)));
  // ...but not beside the profile as it is configured now, one statement longer.
  w.h.deps.settings = awsWith((profiles) => {
    const p = s3ReadOnly(profiles);
    p.inlinePolicy = { ...(p.inlinePolicy as Record<string, unknown>), Statement: [allowList, { Effect: 'Allow', Action: 's3:GetBucketLocation', Resource: 'arn:aws:s3:::app-*' }, ...((p.inlinePolicy as { Statement: unknown[] }).Statement)] };
  });

  const writes = await iamWritesDuring(() => revokeRequest(w.h.deps, api(ARN.responder), long.id, 'incident'));

  expect((await w.h.requests.get(long.id))!.status).toBe('REVOKED');
  // Nothing before the lockdown (no tag, no profile policy): the managed policy off, then the lock.
  expect(writes.map((c) => c.command)).toEqual(['DetachRolePolicy', 'UpdateAssumeRolePolicy']);
  const locked = roleOf(short);
  expect(statements(locked.trust)).toEqual([{ Sid: 'RolegateLockedDown', Effect: 'Deny', Principal: { AWS: '*' }, Action: 'sts:AssumeRole' }]);
  expect(locked.inline).toEqual({ 'rolegate-profile': JSON.stringify(before) });
  expect(locked.attached).toEqual([]);
});

it('writes the lock alone when the trust cannot hold it beside the Denies it kept', async () => {
  const short = await active(60);
  const long = await active(180);
  // Someone turned rolegate's grant into a Deny and padded the trust: it fits, but not with the lock beside it.
  const asDeny = { Sid: 'RolegateGrant', Effect: 'Deny', Principal: { AWS: ARN.alice }, Action: 'sts:AssumeRole' };
  const names: string[] = [];
  const padded = () => ({ Effect: 'Deny', Principal: { AWS: [...names] }, Action: 'sts:AssumeRole' });
  const live = () => ({ Version: '2012-10-17', Statement: [asDeny, padded()] });
  while (policySize(live()) <= 2048) names.push(`arn:aws:iam::111111111111:user/padding-${names.length}`);
  names.pop();
  const lock = { Sid: 'RolegateLockedDown', Effect: 'Deny', Principal: { AWS: '*' }, Action: 'sts:AssumeRole' };
  expect(policySize(live())).toBeLessThanOrEqual(2048);
  expect(policySize({ ...live(), Statement: [lock, ...live().Statement] })).toBeGreaterThan(2048);
  w.aws.tamper(short.accountId, roleName(short), (role) => void (role.trust = JSON.stringify(live())));

  expect((await revokeRequest(w.h.deps, api(ARN.responder), long.id, 'incident')).status).toBe('REVOKED');

  expect(statements(roleOf(short).trust)).toEqual([lock]);
});

it('writes the lock beside the Denies it kept when they fit together exactly, at the trust quota', async () => {
  const short = await active(60);
  const long = await active(180);
  // Someone took rolegate's Allow out and padded the trust with a Deny: the lock beside it comes to exactly 2,048 characters.
  const lock = { Sid: 'RolegateLockedDown', Effect: 'Deny', Principal: { AWS: '*' }, Action: 'sts:AssumeRole' };
  const names: string[] = [];
  const padded = () => ({ Effect: 'Deny', Principal: { AWS: [...names] }, Action: 'sts:AssumeRole' });
  const locked = () => ({ Version: '2012-10-17', Statement: [lock, padded()] });
  while (policySize(locked()) < 2048 - 60) names.push(`arn:aws:iam::111111111111:user/padding-${names.length}`);
  names.push(`arn:aws:iam::111111111111:user/${'p'.repeat(2048 - policySize(locked()) - '"arn:aws:iam::111111111111:user/",'.length)}`);
  expect(policySize(locked())).toBe(2048);
  w.aws.tamper(short.accountId, roleName(short), (role) => void (role.trust = JSON.stringify({ Version: '2012-10-17', Statement: [padded()] })));

  expect((await revokeRequest(w.h.deps, api(ARN.responder), long.id, 'incident')).status).toBe('REVOKED');

  expect(statements(roleOf(short).trust)).toEqual([lock, padded()]);
});

it('counts AWSDenyAll once toward the managed-policy quota when the profile itself attaches it: no lockdown at the quota', async () => {
  const ten = ['AmazonS3ReadOnlyAccess', 'AWSDenyAll', 'ReadOnlyAccess', 'SecurityAudit', 'ViewOnlyAccess', 'AmazonEC2ReadOnlyAccess', 'IAMReadOnlyAccess', 'AmazonRDSReadOnlyAccess', 'AmazonSQSReadOnlyAccess', 'AmazonSNSReadOnlyAccess'];
  w.h.deps.settings = awsWith((profiles) => void (s3ReadOnly(profiles).managedPolicyArns = ten.map((n) => `arn:aws:iam::aws:policy/${n}`)));
  const short = await active(60);
  const long = await active(180);
  expect(long.status).toBe('ACTIVE');
  expect(roleOf(short).attached).toHaveLength(10);
  expect(roleOf(short).trust).not.toContain('RolegateLockedDown');
  expect(roleOf(short).trust).toContain(long.endsAt!);
});

it("locks the role down when a Deny-only policy kept beside its profile policy takes the role's inline policies past IAM's 10,240 characters", async () => {
  const short = await active(60);
  const long = await active(180);
  // A responder's "Revoke active sessions" and a Deny of many buckets, in one inline policy of its own: it fits beside
  // the profile policy as it stands (IAM counts all of a role's inline policies together), but not beside the profile
  // as it is configured now, one statement longer.
  const buckets: string[] = [];
  const incident = () => ({ Version: '2012-10-17', Statement: [...revokeOlderSessions.Statement, { Effect: 'Deny', Action: 's3:*', Resource: [...buckets] }] });
  const profileNow = () => JSON.parse(roleOf(short).inline['rolegate-profile']!) as unknown;
  while (policySize(profileNow()) + policySize(incident()) <= 10_240 - 60) buckets.push(`arn:aws:s3:::bucket-${buckets.length}/*`);
  w.aws.tamper(short.accountId, roleName(short), (role) => void (role.inline.IncidentContainment = JSON.stringify(incident())));
  w.h.deps.settings = awsWith((profiles) => {
    const p = s3ReadOnly(profiles);
    p.inlinePolicy = { ...(p.inlinePolicy as Record<string, unknown>), Statement: [{ Effect: 'Allow', Action: 's3:GetBucketLocation', Resource: 'arn:aws:s3:::app-*' }, ...((p.inlinePolicy as { Statement: unknown[] }).Statement)] };
  });
  const before = roleOf(short);

  const writes = await iamWritesDuring(() => revokeRequest(w.h.deps, api(ARN.responder), long.id, 'incident'));

  expect((await w.h.requests.get(long.id))!.status).toBe('REVOKED');
  expect(writes.map((c) => c.command)).toEqual(['DetachRolePolicy', 'UpdateAssumeRolePolicy']);
  const locked = roleOf(short);
  expect(statements(locked.trust)).toEqual([{ Sid: 'RolegateLockedDown', Effect: 'Deny', Principal: { AWS: '*' }, Action: 'sts:AssumeRole' }]);
  // Both inline policies stay as they were: the profile policy (with its end of access) and the responder's.
  expect(locked.inline).toEqual(before.inline);
  expect((await w.h.requests.getDetail(long.id))!.events.find((e) => e.action === 'ACCESS_REMOVED')!.data).toMatchObject({ roleNotRewritten: expect.stringContaining('locked down') });
});
