import { IAMClient } from '@aws-sdk/client-iam';
import { STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import type { AccessRequest } from '../../../src/domain/model';
import { desiredRole, samePolicy } from '../../../src/domain/provisioning/documents';
import { grantTargetFor, specFor } from '../../../src/domain/grants';
import { createRequest } from '../../../src/domain/use-cases/createRequest';
import { decideRequest } from '../../../src/domain/use-cases/decideRequest';
import { provisionRequest } from '../../../src/domain/use-cases/provisionRequest';
import { reconcile } from '../../../src/domain/use-cases/reconcile';
import { isIamWrite, routeAwsMocks, type FakeRole } from '../../helpers/fault-iam';
import { faultWorld, type FaultWorld } from '../../helpers/fault-world';
import { ARN, settingsWith } from '../../helpers/settings';

/*
 * Reconciliation through the real IamProvisioner against the in-memory IAM
 * (test/helpers/fault-iam.ts), on DynamoDB Local: what someone changes in the
 * console on a live grant's role is found, whatever the change, and repaired
 * to exactly what provisioning writes.
 */

const iamMock = mockClient(IAMClient);
const stsMock = mockClient(STSClient);
const api = (arn: string) => ({ arn, via: 'api' as const });

const settingsFor = (driftAction: 'report' | 'repair') =>
  settingsWith((doc) => {
    (doc.provisioner as Record<string, unknown>).mode = 'aws';
    (doc.provisioner as Record<string, unknown>).identityRoleArn = 'arn:aws:iam::111111111111:role/rolegate-identity-granter';
    (doc.provisioner as Record<string, unknown>).identityExternalId = 'rolegate-identity-5b1e';
    (doc.provisioner as Record<string, unknown>).driftAction = driftAction;
  });

let w: FaultWorld;
beforeEach(() => routeAwsMocks(iamMock, stsMock));
afterEach(async () => {
  await w?.close();
});

/** S3ReadOnly in staging: auto-approved, with the profile's inline Deny. */
async function inlineGrant(): Promise<AccessRequest> {
  const r = await createRequest(w.h.deps, api(ARN.alice), { account: 'staging', profile: 'S3ReadOnly', durationMinutes: 60, reason: 'read the logs' });
  await provisionRequest(w.h.deps, r.id);
  return (await w.h.requests.get(r.id))!;
}

/** EC2Admin in production: two approvers, a permissions boundary, a 2-hour maximum session. */
async function boundedGrant(): Promise<AccessRequest> {
  const r = await createRequest(w.h.deps, api(ARN.bob), { account: 'production', profile: 'EC2Admin', durationMinutes: 60, reason: 'resize the fleet' });
  await decideRequest(w.h.deps, api(ARN.leadAnna), { requestId: r.id, decision: 'APPROVE' });
  await decideRequest(w.h.deps, api(ARN.sreSam), { requestId: r.id, decision: 'APPROVE' });
  await provisionRequest(w.h.deps, r.id);
  return (await w.h.requests.get(r.id))!;
}

/** The grant's role name: the grant key is account#roleName. */
const roleName = (r: AccessRequest): string => r.grantKey!.split('#')[1]!;
const roleOf = (r: AccessRequest): FakeRole => w.aws.role(r.accountId, roleName(r))!;
const tamper = (r: AccessRequest, change: (role: FakeRole) => void) => w.aws.tamper(r.accountId, roleName(r), change);
/** Runs reconciliation once; returns what it found and the IAM writes it sent. */
async function reconcileOnce() {
  let drift: Awaited<ReturnType<typeof reconcile>> = [];
  const calls = await w.schedule.record(async () => {
    drift = await reconcile(w.h.deps);
  });
  return { drift, iamWrites: calls.filter((c) => c.service === 'iam' && isIamWrite(c.command)).map((c) => c.command) };
}
/** A profile policy with rolegate's end of access moved by `ms`. */
function movedEnd(policy: string, ms: number): string {
  const doc = JSON.parse(policy);
  const ends = doc.Statement.find((st: { Sid?: string }) => st.Sid === 'RolegateAccessEnds');
  const at = ends.Condition.DateGreaterThan['aws:CurrentTime'];
  ends.Condition.DateGreaterThan['aws:CurrentTime'] = new Date(Date.parse(at) + ms).toISOString();
  return JSON.stringify(doc);
}
const desiredFor = (r: AccessRequest) => desiredRole(specFor(w.h.deps.settings, grantTargetFor(w.h.deps.settings, r), { [r.id]: r.endsAt! }));

describe('reconciliation against IAM as it really holds a role', () => {
  it('finds no drift in roles exactly as provisioning left them', async () => {
    w = await faultWorld(settingsFor('report'));
    const a = await inlineGrant();
    const b = await boundedGrant();
    expect([a.status, b.status]).toEqual(['ACTIVE', 'ACTIVE']);
    expect(roleOf(b).boundary).toBe(desiredFor(b).permissionsBoundaryArn);

    expect(await reconcile(w.h.deps)).toEqual([]);
  });

  it.each([
    {
      name: 'a permissions boundary removed',
      grant: boundedGrant,
      change: (role: FakeRole) => delete role.boundary,
      kind: 'boundary-changed',
      detail: 'permissions boundary none; expected arn:aws:iam::aws:policy/PowerUserAccess',
      repairedBy: 'PutRolePermissionsBoundary',
    },
    {
      name: 'a permissions boundary swapped for a wider one',
      grant: boundedGrant,
      change: (role: FakeRole) => (role.boundary = 'arn:aws:iam::aws:policy/AdministratorAccess'),
      kind: 'boundary-changed',
      detail: 'permissions boundary arn:aws:iam::aws:policy/AdministratorAccess; expected arn:aws:iam::aws:policy/PowerUserAccess',
      // Held at Deny-all while the boundary narrows back, then given its own inline policy again.
      repairedBy: ['PutRolePolicy', 'PutRolePermissionsBoundary', 'PutRolePolicy'],
    },
    {
      name: 'the inline policy edited in place (its Deny turned into Allow *)',
      grant: inlineGrant,
      change: (role: FakeRole) => {
        const name = Object.keys(role.inline)[0]!;
        role.inline[name] = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] });
      },
      kind: 'permissions-changed',
      detail: 'inline policy rolegate-profile was edited',
      repairedBy: 'PutRolePolicy',
    },
    {
      name: "the profile's own Deny taken out of the inline policy (taking a Deny away widens)",
      grant: inlineGrant,
      change: (role: FakeRole) => {
        const doc = JSON.parse(role.inline['rolegate-profile']!);
        role.inline['rolegate-profile'] = JSON.stringify({ ...doc, Statement: doc.Statement.filter((st: { Sid?: string }) => st.Sid === 'RolegateAccessEnds') });
      },
      kind: 'permissions-changed',
      detail: 'inline policy rolegate-profile was edited',
      repairedBy: 'PutRolePolicy',
    },
    {
      name: 'a second inline policy added',
      grant: inlineGrant,
      change: (role: FakeRole) => (role.inline['break-glass'] = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'iam:*', Resource: '*' }] })),
      kind: 'permissions-changed',
      detail: 'attached arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess; inline break-glass, rolegate-profile',
      repairedBy: 'DeleteRolePolicy',
    },
    {
      name: 'the end of access moved a day later',
      grant: inlineGrant,
      change: (role: FakeRole) => (role.inline['rolegate-profile'] = movedEnd(role.inline['rolegate-profile']!, 24 * 3_600_000)),
      kind: 'permissions-changed',
      detail: 'inline policy rolegate-profile was edited',
      repairedBy: 'PutRolePolicy',
    },
    {
      name: 'the maximum session raised to 12 hours',
      grant: boundedGrant,
      change: (role: FakeRole) => (role.MaxSessionDuration = 43200),
      kind: 'session-duration-changed',
      detail: 'maximum session 43200 s; expected 7200 s',
      repairedBy: 'UpdateRole',
    },
  ])('reports $name, then repairs it to exactly what provisioning wrote', async ({ grant, change, kind, detail, repairedBy }) => {
    w = await faultWorld(settingsFor('report'));
    const r = await grant();
    const provisioned = roleOf(r);
    tamper(r, change);
    const tampered = roleOf(r);
    expect(tampered).not.toEqual(provisioned);

    // Report mode: found, audited, and IAM left as it is.
    const report = await reconcileOnce();
    expect(report.drift).toEqual([{ accountId: r.accountId, roleName: roleName(r), kind, detail, repaired: false }]);
    expect(report.iamWrites).toEqual([]);
    expect(roleOf(r)).toEqual(tampered);
    const events = (await w.h.requests.getDetail(r.id))!.events;
    expect(events.at(-1)).toMatchObject({ action: 'DRIFT_DETECTED', comment: `${kind}: ${detail}` });

    // Repair mode: the role is brought back to what provisioning wrote, and stays so.
    w.h.deps.settings = settingsFor('repair');
    const repair = await reconcileOnce();
    expect(repair.drift).toEqual([{ accountId: r.accountId, roleName: roleName(r), kind, detail, repaired: true }]);
    expect(repair.iamWrites).toEqual([repairedBy].flat());
    expect(roleOf(r)).toEqual(provisioned);
    expect(await reconcile(w.h.deps)).toEqual([]);
  });

  const DENY_ASSUME = { Sid: 'Incident42', Effect: 'Deny', Principal: { AWS: '*' }, Action: 'sts:AssumeRole' };
  it.each([
    {
      name: 'a Deny added to the trust',
      change: (role: FakeRole) => {
        const trust = JSON.parse(role.trust);
        role.trust = JSON.stringify({ ...trust, Statement: [...trust.Statement, DENY_ASSUME] });
      },
    },
    { name: 'AWSDenyAll attached', change: (role: FakeRole) => role.attached.push('arn:aws:iam::aws:policy/AWSDenyAll') },
    {
      name: 'a Deny added to the profile policy',
      change: (role: FakeRole) => {
        const doc = JSON.parse(role.inline['rolegate-profile']!);
        role.inline['rolegate-profile'] = JSON.stringify({ ...doc, Statement: [...doc.Statement, { Effect: 'Deny', Action: '*', Resource: '*' }] });
      },
    },
  ])("takes a responder's containment for no drift, even in repair mode: $name stays as it is", async ({ change }) => {
    w = await faultWorld(settingsFor('repair'));
    const r = await inlineGrant();
    tamper(r, change);
    const tampered = roleOf(r);

    const { drift, iamWrites } = await reconcileOnce();

    expect(drift).toEqual([]);
    expect(iamWrites).toEqual([]);
    expect(roleOf(r)).toEqual(tampered);
  });

  it('repairs a widening around a responder\'s Deny: what was added goes, the Deny stays', async () => {
    w = await faultWorld(settingsFor('repair'));
    const r = await inlineGrant();
    const provisioned = roleOf(r);
    tamper(r, (role) => {
      role.attached.push('arn:aws:iam::aws:policy/AdministratorAccess');
      role.attached.push('arn:aws:iam::aws:policy/AWSDenyAll');
      const trust = JSON.parse(role.trust);
      role.trust = JSON.stringify({ ...trust, Statement: [...trust.Statement, DENY_ASSUME] });
    });

    const { drift, iamWrites } = await reconcileOnce();

    expect(drift).toEqual([expect.objectContaining({ kind: 'permissions-changed', repaired: true })]);
    expect(iamWrites).toEqual(['DetachRolePolicy']);
    const trust = JSON.parse(provisioned.trust);
    expect(roleOf(r)).toEqual({
      ...provisioned,
      attached: [...provisioned.attached, 'arn:aws:iam::aws:policy/AWSDenyAll'],
      trust: JSON.stringify({ ...trust, Statement: [...trust.Statement, DENY_ASSUME] }),
    });
  });

  it.each([
    { name: 'a managed policy detached', grant: inlineGrant, change: (role: FakeRole) => (role.attached = []), kind: 'permissions-changed', why: 'it only narrows access' },
    {
      name: 'every policy taken off, the profile policy with its Deny included (nothing left for the Deny to fence)',
      grant: inlineGrant,
      change: (role: FakeRole) => {
        role.attached = [];
        delete role.inline['rolegate-profile'];
      },
      kind: 'permissions-changed',
      why: 'it only narrows access',
    },
    { name: 'the maximum session lowered', grant: boundedGrant, change: (role: FakeRole) => (role.MaxSessionDuration = 3600), kind: 'session-duration-changed', why: 'it only narrows access' },
    {
      name: 'the end of access moved earlier',
      grant: inlineGrant,
      change: (role: FakeRole) => (role.inline['rolegate-profile'] = movedEnd(role.inline['rolegate-profile']!, -30 * 60_000)),
      kind: 'permissions-changed',
      why: 'it only narrows access',
    },
  ])("never widens a role back, even in repair mode: $name is reported and left as it is", async ({ grant, change, kind, why }) => {
    w = await faultWorld(settingsFor('repair'));
    const r = await grant();
    tamper(r, change);
    const tampered = roleOf(r);

    const { drift, iamWrites } = await reconcileOnce();

    expect(drift).toEqual([{ accountId: r.accountId, roleName: roleName(r), kind, detail: expect.stringContaining(why), repaired: false }]);
    expect(iamWrites).toEqual([]);
    expect(roleOf(r)).toEqual(tampered);
  });

  it('repairs a role whose policies were swapped for wider ones, though it lacks one of its own', async () => {
    w = await faultWorld(settingsFor('repair'));
    const r = await inlineGrant();
    const provisioned = roleOf(r);
    tamper(r, (role) => (role.attached = ['arn:aws:iam::aws:policy/AdministratorAccess']));

    const { drift } = await reconcileOnce();

    expect(drift).toEqual([expect.objectContaining({ kind: 'permissions-changed', repaired: true })]);
    expect(roleOf(r)).toEqual(provisioned);
  });

  it('reports a live role whose managed-by tag was removed, and never changes it, even in repair mode', async () => {
    w = await faultWorld(settingsFor('repair'));
    const r = await inlineGrant();
    tamper(r, (role) => {
      delete role.tags['managed-by'];
      role.attached.push('arn:aws:iam::aws:policy/AdministratorAccess');
    });
    const tampered = roleOf(r);

    const { drift, iamWrites } = await reconcileOnce();

    expect(drift).toEqual([
      {
        accountId: r.accountId,
        roleName: roleName(r),
        kind: 'unmanaged-role',
        detail: 'the role lost its managed-by=rolegate tag; rolegate will not change it until the tag is restored',
        repaired: false,
      },
    ]);
    expect(iamWrites).toEqual([]);
    expect(roleOf(r)).toEqual(tampered);
    expect(samePolicy(JSON.parse(tampered.trust), desiredFor(r).trustPolicy)).toBe(true);
  });
});
