import { IAMClient } from '@aws-sdk/client-iam';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { grantItemKey } from '../../../src/adapters/dynamodb/keys';
import { DryRunIdentityGranter, DryRunProvisioner } from '../../../src/adapters/aws/dry-run';
import { ConflictError } from '../../../src/domain/errors';
import type { AccessRequest } from '../../../src/domain/model';
import { createRequest } from '../../../src/domain/use-cases/createRequest';
import { revokeRequest } from '../../../src/domain/use-cases/endAccess';
import { extendRequest } from '../../../src/domain/use-cases/extendRequest';
import { provisionRequest } from '../../../src/domain/use-cases/provisionRequest';
import { reconcile } from '../../../src/domain/use-cases/reconcile';
import { sweep } from '../../../src/domain/use-cases/sweep';
import { call } from '../../helpers/events';
import { isIamWrite, routeAwsMocks } from '../../helpers/fault-iam';
import { faultWorld, type FaultWorld } from '../../helpers/fault-world';
import { ARN, settingsWith } from '../../helpers/settings';

/*
 * A provisioned request keeps its role when the configuration changes later:
 * with its profile or its account removed, it is still revoked and expired,
 * through the real IamProvisioner and identity granter against the in-memory
 * IAM, on DynamoDB Local.
 */

const iamMock = mockClient(IAMClient);
const stsMock = mockClient(STSClient);
const alice = { arn: ARN.alice, via: 'api' as const };
const STAGING = '222222222222';
const MINUTE = 60_000;

type Doc = Record<string, any>;
const awsMode = (patch: (doc: Doc) => void = () => undefined, driftAction: 'report' | 'repair' = 'report') =>
  settingsWith((doc: Doc) => {
    doc.provisioner.mode = 'aws';
    doc.provisioner.identityRoleArn = 'arn:aws:iam::111111111111:role/rolegate-identity-granter';
    doc.provisioner.identityExternalId = 'rolegate-identity-5b1e';
    doc.provisioner.driftAction = driftAction;
    patch(doc);
  });
/** S3ReadOnly leaves the configuration (the profile and the rules naming it). */
const withoutS3ReadOnly = (doc: Doc) => {
  doc.profiles = doc.profiles.filter((p: Doc) => p.name !== 'S3ReadOnly');
  for (const rule of doc.rules) rule.profiles = rule.profiles.filter((p: string) => p !== 'S3ReadOnly');
};
/** The staging account leaves the configuration (with the rule that covered only it). */
const withoutStaging = (doc: Doc) => {
  doc.accounts = doc.accounts.filter((a: Doc) => a.id !== STAGING);
  doc.rules = doc.rules.filter((r: Doc) => r.id !== 'staging-self-service');
};

let w: FaultWorld;
beforeEach(() => routeAwsMocks(iamMock, stsMock));
afterEach(async () => {
  await w?.close();
});

/** An auto-approved staging grant for alice, provisioned. */
async function grant(profile: 'S3ReadOnly' | 'ReadOnly', durationMinutes: number): Promise<AccessRequest> {
  const r = await createRequest(w.h.deps, alice, { account: 'staging', profile, durationMinutes, reason: 'read the logs' });
  await provisionRequest(w.h.deps, r.id);
  const active = (await w.h.requests.get(r.id))!;
  expect(active.status).toBe('ACTIVE');
  return active;
}

/** An auto-approved staging grant for alice and its extension, both provisioned on the one role. */
async function grantWithExtension(profile: 'S3ReadOnly' | 'ReadOnly'): Promise<{ r: AccessRequest; extension: AccessRequest }> {
  const r = await grant(profile, 60);
  const extension = await extendRequest(w.h.deps, alice, r.id, { durationMinutes: 60, reason: 'more' });
  await provisionRequest(w.h.deps, extension.id);
  expect((await w.h.requests.get(extension.id))!).toMatchObject({ status: 'ACTIVE', grantKey: r.grantKey });
  return { r, extension };
}

const roleName = (r: AccessRequest) => r.grantKey!.split('#')[1]!;
const stagingRoles = () => Object.keys(w.aws.dump().roles).filter((k) => k.startsWith(`${STAGING}/`));
const identityPolicies = () => Object.keys(w.aws.dump().userPolicies);
const actions = async (r: AccessRequest) => (await w.h.requests.getDetail(r.id))!.events.map((e) => e.action);
/** Runs work and returns the IAM writes it sent. */
const iamWritesOf = async (work: () => Promise<unknown>) =>
  (await w.schedule.record(work)).filter((c) => c.service === 'iam' && isIamWrite(c.command)).map((c) => c.command);

describe('a profile removed from the configuration', () => {
  it('still lets its live grant be revoked: role, identity policy and grant item go', async () => {
    w = await faultWorld(awsMode());
    const r = await grant('S3ReadOnly', 60);
    expect(stagingRoles()).toEqual([`${STAGING}/${roleName(r)}`]);
    expect(identityPolicies()).toHaveLength(1);
    w.h.deps.settings = awsMode(withoutS3ReadOnly);

    const revoked = await revokeRequest(w.h.deps, alice, r.id, 'done');

    expect(revoked.status).toBe('REVOKED');
    expect((await w.h.requests.get(r.id))!.status).toBe('REVOKED');
    expect((await actions(r)).slice(-2)).toEqual(['REVOKED', 'ACCESS_REMOVED']);
    expect((await w.h.requests.getDetail(r.id))!.events.at(-1)!.data).toMatchObject({ roleDeleted: true, stillCoveredBy: [] });
    expect(stagingRoles()).toEqual([]);
    expect(identityPolicies()).toEqual([]);
    expect(await w.rawGrant(r.grantKey!)).toBeUndefined();
  });

  it('still lets the sweeper expire its live grant, without ExpiryFailed', async () => {
    w = await faultWorld(awsMode());
    const r = await grant('S3ReadOnly', 60);
    w.h.deps.settings = awsMode(withoutS3ReadOnly);
    w.h.clock.advance(61 * MINUTE);

    const report = await sweep(w.h.deps);

    expect(report).toMatchObject({ expired: 1, errors: [] });
    expect((await w.h.requests.get(r.id))!.status).toBe('EXPIRED');
    expect((await actions(r)).slice(-2)).toEqual(['EXPIRED', 'ACCESS_REMOVED']);
    expect(w.h.metrics.counts.get('ExpiryFailed') ?? 0).toBe(0);
    expect(stagingRoles()).toEqual([]);
    expect(identityPolicies()).toEqual([]);
  });

  it('on a shared role: the request ending first leaves it untouched; the one ending last is refused with what to do', async () => {
    w = await faultWorld(awsMode());
    const short = await grant('S3ReadOnly', 30);
    const long = await grant('S3ReadOnly', 120);
    expect(long.grantKey).toBe(short.grantKey);
    const role = w.aws.role(STAGING, roleName(long));
    w.h.deps.settings = awsMode(withoutS3ReadOnly);

    // The long request ends after the short one: moving the role's end back needs the profile.
    const refused = revokeRequest(w.h.deps, alice, long.id);
    await expect(refused).rejects.toThrow(ConflictError);
    await expect(refused).rejects.toThrow(
      `moving the role's end back to theirs needs profile "S3ReadOnly", which is no longer in the configuration. Add it back and try again, or end those requests first`,
    );
    expect((await w.h.requests.get(long.id))!.status).toBe('ACTIVE');

    // The short one ends first: the role already ends at the long one's end, so IAM is left as it is.
    const writes = await iamWritesOf(() => revokeRequest(w.h.deps, alice, short.id));
    expect(writes).toEqual([]);
    expect((await w.h.requests.get(short.id))!.status).toBe('REVOKED');
    expect(w.aws.role(STAGING, roleName(long))).toEqual(role);
    expect(Object.keys((await w.rawGrant(long.grantKey!))!.members as object)).toEqual([long.id]);
    expect((await w.h.requests.getDetail(short.id))!.events.find((e) => e.action === 'ACCESS_REMOVED')!.data).toEqual({
      roleDeleted: false,
      stillCoveredBy: [long.id],
      calls: [],
      roleNotRewritten: 'as profile "S3ReadOnly" is no longer in the configuration, and they end no earlier than the request leaving',
    });

    // Now the last member: the role goes.
    await revokeRequest(w.h.deps, alice, long.id);
    expect((await w.h.requests.get(long.id))!.status).toBe('REVOKED');
    expect(stagingRoles()).toEqual([]);
    expect(identityPolicies()).toEqual([]);
  });

  it('revokes a request and its extension together: the extension leaves the role to the request as it is, and the request deletes it', async () => {
    w = await faultWorld(awsMode());
    const { r, extension } = await grantWithExtension('S3ReadOnly');
    w.h.deps.settings = awsMode(withoutS3ReadOnly);

    // Narrowing the role to the request's end as the extension leaves would need the profile; both are leaving.
    const writes = await iamWritesOf(() => revokeRequest(w.h.deps, alice, r.id, 'done'));

    expect((await w.h.requests.get(r.id))!.status).toBe('REVOKED');
    expect((await w.h.requests.get(extension.id))!.status).toBe('REVOKED');
    expect((await actions(extension)).slice(-2)).toEqual(['REVOKED', 'ACCESS_REMOVED']);
    expect((await w.h.requests.getDetail(extension.id))!.events.find((e) => e.action === 'ACCESS_REMOVED')!.data).toEqual({
      roleDeleted: false,
      stillCoveredBy: [r.id],
      calls: [],
      roleNotRewritten: 'as profile "S3ReadOnly" is no longer in the configuration, and only requests leaving with it remain (the last to leave deletes the role)',
    });
    // Nothing rewritten on the way: the role kept the extension's end, then went.
    expect(writes).toEqual(['DetachRolePolicy', 'DeleteRolePolicy', 'DeleteRole', 'DeleteUserPolicy']);
    expect(stagingRoles()).toEqual([]);
    expect(identityPolicies()).toEqual([]);
    expect(await w.rawGrant(r.grantKey!)).toBeUndefined();
    expect(w.h.metrics.counts.get('RevocationIncomplete') ?? 0).toBe(0);
  });

  it('ends a request approved before its profile left FAILED at its first provisioning, naming the change, with no role written', async () => {
    w = await faultWorld(awsMode());
    const r = await createRequest(w.h.deps, alice, { account: 'staging', profile: 'S3ReadOnly', durationMinutes: 60, reason: 'read the bucket' });
    expect(r.status).toBe('APPROVED');
    w.h.deps.settings = awsMode(withoutS3ReadOnly);

    const writes = await iamWritesOf(() => provisionRequest(w.h.deps, r.id));

    // Only the undo's removal of an identity policy a crashed earlier attempt could have left: no role is written.
    expect(writes).toEqual(['DeleteUserPolicy']);
    expect((await w.h.requests.get(r.id))!).toMatchObject({
      status: 'FAILED',
      failure: {
        code: 'ConfigurationChanged',
        retryable: false,
        message: `Rule "staging-self-service" no longer lets ${ARN.alice} request profile "S3ReadOnly" in account staging (${STAGING}): the configuration changed since request ${r.id} was made. Make a new request.`,
      },
    });
    expect(w.h.notifier.sent.filter((n) => n.request.id === r.id).map((n) => n.kind)).toEqual(['request.approved', 'request.failed']);
    expect(w.aws.dump()).toEqual({ roles: {}, userPolicies: {} });
  });
});

describe('extending a live grant whose account or profile left the configuration', () => {
  it.each([
    ['profile', withoutS3ReadOnly, 'profile "S3ReadOnly"'],
    ['accountId', withoutStaging, `account ${STAGING}`],
  ])('is a 409 on %s, naming what left, not a 404 that reads as "no such request"; nothing is written', async (field, change, what) => {
    w = await faultWorld(awsMode());
    const r = await grant('S3ReadOnly', 60);
    w.h.deps.settings = awsMode(change);
    const before = await w.h.requests.getDetail(r.id);

    const res = await call(w.h.api, { method: 'POST', path: `/requests/${r.id}/extend`, caller: ARN.alice, body: { durationMinutes: 60, reason: 'more' } });

    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({
      error: 'CONFLICT',
      message: `Request ${r.id} cannot be extended: its ${what} is no longer in rolegate's configuration.`,
      details: [{ field, reason: 'is no longer in the configuration' }],
    });
    expect(await w.h.requests.getDetail(r.id)).toEqual(before);
  });
});

describe('a deployment switched from aws to dry-run while access is live', () => {
  it('refuses to end access whose role it wrote to IAM, leaving role and state whole; back in aws mode the revoke ends it', async () => {
    w = await faultWorld(awsMode());
    const r = await grant('ReadOnly', 60);
    const real = { provisioner: w.h.deps.provisioner, identity: w.h.deps.identity };
    const dry = settingsWith(() => undefined);
    expect(dry.provisioner.mode).toBe('dry-run');
    Object.assign(w.h.deps, { settings: dry, provisioner: new DryRunProvisioner(dry), identity: new DryRunIdentityGranter(dry) });
    // A dry-run write onto the grant (an extension joining it) changes nothing in IAM, so the grant stays marked as in AWS.
    const extension = await extendRequest(w.h.deps, alice, r.id, { durationMinutes: 30, reason: 'more' });
    expect((await provisionRequest(w.h.deps, extension.id)).outcome).toBe('active');
    expect((await w.rawGrant(r.grantKey!))!).toMatchObject({ mode: 'aws', members: { [r.id]: r.endsAt, [extension.id]: expect.any(String) } });

    const refused = await call(w.h.api, { method: 'POST', path: `/requests/${r.id}/revoke`, caller: ARN.alice, body: {} });
    expect(refused.status).toBe(502);
    expect(refused.body).toEqual({
      error: 'PROVISIONING_FAILED',
      message: expect.stringContaining(`was written to AWS, but this deployment runs provisioner.mode dry-run, which changes nothing there`),
    });
    expect((await w.h.requests.get(r.id))!.status).toBe('ACTIVE');
    w.h.clock.advance(61 * MINUTE);
    const report = await sweep(w.h.deps);
    expect(report).toMatchObject({ expired: 0 });
    expect(w.h.metrics.counts.get('ExpiryFailed')).toBe(1);
    expect((await w.h.requests.get(r.id))!.status).toBe('ACTIVE');
    expect(stagingRoles()).toEqual([`${STAGING}/${roleName(r)}`]);
    expect(identityPolicies()).toHaveLength(1);
    expect((await w.rawGrant(r.grantKey!))!).toMatchObject({ mode: 'aws' });

    Object.assign(w.h.deps, { settings: awsMode(), ...real });
    expect((await revokeRequest(w.h.deps, alice, r.id, 'done')).status).toBe('REVOKED');
    expect(stagingRoles()).toEqual([]);
    expect(identityPolicies()).toEqual([]);
  });
});

describe('an account removed from the configuration', () => {
  it('expires its grant through the provisioner role the grant recorded', async () => {
    w = await faultWorld(awsMode());
    const r = await grant('ReadOnly', 60);
    expect((await w.rawGrant(r.grantKey!))!.account).toMatchObject({ id: STAGING, provisionerRoleArn: `arn:aws:iam::${STAGING}:role/rolegate-provisioner`, externalId: 'rolegate-staging-7f3a' });
    w.h.deps.settings = awsMode(withoutStaging);
    w.newInvocation();
    stsMock.resetHistory();
    w.h.clock.advance(61 * MINUTE);

    const report = await sweep(w.h.deps);

    expect(report).toMatchObject({ expired: 1, errors: [] });
    expect(stsMock.commandCalls(AssumeRoleCommand).map((c) => c.args[0].input)).toEqual([
      expect.objectContaining({ RoleArn: `arn:aws:iam::${STAGING}:role/rolegate-provisioner`, ExternalId: 'rolegate-staging-7f3a' }),
    ]);
    expect((await w.h.requests.get(r.id))!.status).toBe('EXPIRED');
    expect((await actions(r)).slice(-2)).toEqual(['EXPIRED', 'ACCESS_REMOVED']);
    expect(stagingRoles()).toEqual([]);
    expect(identityPolicies()).toEqual([]);
  });

  it('expires two requests sharing a role in one sweep through the recorded account: the role goes once, and nothing is owed', async () => {
    w = await faultWorld(awsMode());
    const { r, extension } = await grantWithExtension('ReadOnly');
    w.h.deps.settings = awsMode(withoutStaging);
    w.h.clock.advance(121 * MINUTE);

    const report = await sweep(w.h.deps);

    expect(report).toMatchObject({ expired: 2, errors: [] });
    for (const request of [r, extension]) {
      expect((await w.h.requests.get(request.id))!.status).toBe('EXPIRED');
      expect(await actions(request)).not.toContain('ACCESS_REMOVAL_OWED');
    }
    expect(w.h.metrics.counts.get('RemovalOwed')).toBeUndefined();
    expect(stagingRoles()).toEqual([]);
    expect(await w.rawGrant(r.grantKey!)).toBeUndefined();
  });

  describe('with a grant that recorded nothing to reach it (written before grants kept their account)', () => {
    async function legacyGrant(): Promise<AccessRequest> {
      const r = await grant('ReadOnly', 60);
      await w.h.requests.doc.send(new UpdateCommand({ TableName: w.h.tableName, Key: grantItemKey(r.grantKey!), UpdateExpression: 'REMOVE account' }));
      w.h.deps.settings = awsMode(withoutStaging);
      return r;
    }

    it('refuses a revoke with a 409 that names the account and what to do, and changes nothing', async () => {
      w = await faultWorld(awsMode());
      const r = await legacyGrant();

      const res = await call(w.h.api, { method: 'POST', path: `/requests/${r.id}/revoke`, caller: ARN.alice, body: {} });

      expect(res.status).toBe(409);
      expect(res.body).toEqual({
        error: 'CONFLICT',
        message:
          `Request ${r.id}'s access is role ${roleName(r)} in account ${STAGING}, which is no longer in the configuration, and its grant does not record how to reach it: rolegate cannot delete the role. ` +
          `Add the account back to the configuration (id, provisionerRoleArn, externalId) and revoke again; IAM's time condition ends the access at its end meanwhile.`,
        details: [{ field: 'accountId', reason: 'is no longer in the configuration' }],
      });
      expect((await w.h.requests.get(r.id))!.status).toBe('ACTIVE');
      expect(stagingRoles()).toEqual([`${STAGING}/${roleName(r)}`]);
      expect(identityPolicies()).toHaveLength(1);
      expect(await w.rawGrant(r.grantKey!)).toBeDefined();
    });

    it('revokes a request whose end has passed but was not swept yet with a 200, as its expiry would: the role cleanup is audited as owed', async () => {
      // Past its end IAM's time conditions already refuse the role, so an unreachable role no longer holds the revoke up.
      w = await faultWorld(awsMode());
      const r = await legacyGrant();
      w.h.clock.advance(61 * MINUTE);

      const res = await call(w.h.api, { method: 'POST', path: `/requests/${r.id}/revoke`, caller: ARN.alice, body: {} });

      expect(res.status).toBe(200);
      expect(res.body.request).toMatchObject({ id: r.id, status: 'REVOKED' });
      expect((await w.h.requests.get(r.id))!.status).toBe('REVOKED');
      expect((await actions(r)).slice(-2)).toEqual(['REVOKED', 'ACCESS_REMOVAL_OWED']);
      expect(stagingRoles()).toEqual([`${STAGING}/${roleName(r)}`]);
      expect(identityPolicies()).toEqual([]);
    });

    it('ends the expired request, removes the identity policy, and audits the role cleanup as owed (one RemovalOwed, which an expiry that will be retried never counts)', async () => {
      w = await faultWorld(awsMode());
      const r = await legacyGrant();
      w.h.clock.advance(61 * MINUTE);

      const first = await sweep(w.h.deps);
      const second = await sweep(w.h.deps);

      expect(first).toMatchObject({ expired: 1, errors: [] });
      expect(second).toMatchObject({ expired: 0, errors: [] });
      expect((await w.h.requests.get(r.id))!.status).toBe('EXPIRED');
      const last = (await w.h.requests.getDetail(r.id))!.events.slice(-2);
      expect(last.map((e) => e.action)).toEqual(['EXPIRED', 'ACCESS_REMOVAL_OWED']);
      expect(last[1]).toMatchObject({
        actor: 'rolegate',
        comment: `Account ${STAGING} is no longer in the configuration, so role ${roleName(r)} in account ${STAGING} could not be deleted (IAM's time conditions already refuse it). Delete the role by hand, or add the account back and let reconciliation remove it (driftAction: repair).`,
        data: { accountId: STAGING, roleName: roleName(r), calls: ['DeleteUserPolicy'] },
      });
      expect(w.h.metrics.counts.get('RemovalOwed')).toBe(1);
      expect(w.h.metrics.counts.get('ExpiryFailed')).toBeUndefined();
      expect(stagingRoles()).toEqual([`${STAGING}/${roleName(r)}`]);
      expect(identityPolicies()).toEqual([]);
      // The grant stays, as its role does: reconciliation finds the role through it once the account is back.
      expect((await w.rawGrant(r.grantKey!))!.members).toEqual({ [r.id]: r.endsAt });
    });

    /** Fails the first commit of a request into `status` (a Lambda timeout after the IAM work, DynamoDB throttled past its retries). */
    function failFirstCommitInto(status: string): void {
      const commit = w.h.deps.requests.commit.bind(w.h.deps.requests);
      let failures = 1;
      w.h.deps.requests.commit = async (write) => {
        if (write.request.status === status && failures-- > 0) throw new Error('Lambda timed out');
        return commit(write);
      };
    }

    it('still audits the role cleanup as owed when the expiry is retried after its commit failed, and removes the role once the account is back (repair)', async () => {
      w = await faultWorld(awsMode());
      const r = await legacyGrant();
      w.h.clock.advance(61 * MINUTE);
      failFirstCommitInto('EXPIRED');

      const first = await sweep(w.h.deps);
      expect(first.expired).toBe(0);
      expect((await w.h.requests.get(r.id))!.status).toBe('ACTIVE');
      w.h.clock.advance(5 * MINUTE);
      const second = await sweep(w.h.deps);

      expect(second).toMatchObject({ expired: 1, errors: [] });
      const last = (await w.h.requests.getDetail(r.id))!.events.slice(-2);
      expect(last.map((e) => e.action)).toEqual(['EXPIRED', 'ACCESS_REMOVAL_OWED']);
      expect(last[1]).toMatchObject({ data: { accountId: STAGING, roleName: roleName(r) } });
      expect(w.h.metrics.counts.get('RemovalOwed')).toBe(1);
      expect(stagingRoles()).toEqual([`${STAGING}/${roleName(r)}`]);

      // The account back, under driftAction repair: reconciliation removes the role the grant still names.
      w.h.deps.settings = awsMode(() => undefined, 'repair');
      w.h.clock.advance(10 * MINUTE);
      const drift = await reconcile(w.h.deps);
      expect(drift).toEqual([expect.objectContaining({ accountId: STAGING, roleName: roleName(r), kind: 'unknown-role', repaired: true })]);
      expect(stagingRoles()).toEqual([]);
    });

    it('ends an approved request whose role was written before a crash with the cleanup owed, also when that end is retried after its commit failed', async () => {
      w = await faultWorld(awsMode());
      const r = await createRequest(w.h.deps, alice, { account: 'staging', profile: 'ReadOnly', durationMinutes: 60, reason: 'read the logs' });
      failFirstCommitInto('ACTIVE');
      await expect(provisionRequest(w.h.deps, r.id)).rejects.toThrow('Lambda timed out');
      const grantKey = `${STAGING}#${stagingRoles()[0]!.split('/')[1]}`;
      await w.h.requests.doc.send(new UpdateCommand({ TableName: w.h.tableName, Key: grantItemKey(grantKey), UpdateExpression: 'REMOVE account' }));
      w.h.deps.settings = awsMode(withoutStaging);
      w.h.clock.advance(61 * MINUTE);
      failFirstCommitInto('EXPIRED');

      await expect(provisionRequest(w.h.deps, r.id)).rejects.toThrow('Lambda timed out');
      const result = await provisionRequest(w.h.deps, r.id);

      expect(result.outcome).toBe('expired');
      expect((await w.h.requests.getDetail(r.id))!.events.slice(-2).map((e) => e.action)).toEqual(['EXPIRED', 'ACCESS_REMOVAL_OWED']);
      expect(w.h.metrics.counts.get('RemovalOwed')).toBe(1);
      expect(stagingRoles()).toHaveLength(1);
    });

    it('ends an approved request whose role was written before a crash, once its end has passed, with the cleanup owed (one RemovalOwed)', async () => {
      w = await faultWorld(awsMode());
      const r = await createRequest(w.h.deps, alice, { account: 'staging', profile: 'ReadOnly', durationMinutes: 60, reason: 'read the logs' });
      // The worker dies after the role and the grant were written, before the request was recorded ACTIVE.
      const commit = w.h.deps.requests.commit.bind(w.h.deps.requests);
      let crashes = 1;
      w.h.deps.requests.commit = async (write) => {
        if (write.request.status === 'ACTIVE' && crashes-- > 0) throw new Error('Lambda timed out');
        return commit(write);
      };
      await expect(provisionRequest(w.h.deps, r.id)).rejects.toThrow('Lambda timed out');
      expect((await w.h.requests.get(r.id))!.status).toBe('APPROVED');
      const grantKey = `${STAGING}#${stagingRoles()[0]!.split('/')[1]}`;
      expect((await w.rawGrant(grantKey))!.members).toEqual({ [r.id]: expect.any(String) });
      await w.h.requests.doc.send(new UpdateCommand({ TableName: w.h.tableName, Key: grantItemKey(grantKey), UpdateExpression: 'REMOVE account' }));
      w.h.deps.settings = awsMode(withoutStaging);
      w.h.clock.advance(61 * MINUTE);

      const result = await provisionRequest(w.h.deps, r.id);

      expect(result.outcome).toBe('expired');
      expect((await w.h.requests.get(r.id))!.status).toBe('EXPIRED');
      expect((await w.h.requests.getDetail(r.id))!.events.slice(-2).map((e) => e.action)).toEqual(['EXPIRED', 'ACCESS_REMOVAL_OWED']);
      expect(w.h.metrics.counts.get('RemovalOwed')).toBe(1);
      expect(w.h.metrics.counts.get('ExpiryFailed')).toBeUndefined();
    });

    it('refuses the revoke of a request whose live extension on the same role cannot be reached, rather than answering 200', async () => {
      w = await faultWorld(awsMode());
      const { r, extension } = await grantWithExtension('ReadOnly');
      await w.h.requests.doc.send(new UpdateCommand({ TableName: w.h.tableName, Key: grantItemKey(r.grantKey!), UpdateExpression: 'REMOVE account' }));
      w.h.deps.settings = awsMode(withoutStaging);

      const res = await call(w.h.api, { method: 'POST', path: `/requests/${r.id}/revoke`, caller: ARN.alice, body: {} });

      expect(res.status).toBe(409);
      expect(res.body.message).toContain(`Request ${extension.id} shares role ${roleName(r)} in account ${STAGING} with live requests ${r.id} and ends after them`);
      expect((await w.h.requests.get(r.id))!.status).toBe('ACTIVE');
      expect((await w.h.requests.get(extension.id))!.status).toBe('ACTIVE');
      expect(stagingRoles()).toEqual([`${STAGING}/${roleName(r)}`]);
    });
  });

  describe('with a request that never got a role', () => {
    it('ends FAILED at its first provisioning, naming the change and owing nothing, and can then be revoked', async () => {
      w = await faultWorld(awsMode());
      const r = await createRequest(w.h.deps, alice, { account: 'staging', profile: 'ReadOnly', durationMinutes: 60, reason: 'read the logs' });
      expect(r.status).toBe('APPROVED');
      w.h.deps.settings = awsMode(withoutStaging);

      w.h.clock.advance(3 * MINUTE);
      let report: Awaited<ReturnType<typeof sweep>> | undefined;
      const writes = await iamWritesOf(async () => (report = await sweep(w.h.deps)));

      expect(report).toMatchObject({ failed: 1, errors: [] });
      expect(writes).toEqual(['DeleteUserPolicy']);
      const failed = (await w.h.requests.getDetail(r.id))!;
      expect(failed.request).toMatchObject({
        status: 'FAILED',
        provisioningAttempts: 1,
        failure: {
          code: 'ConfigurationChanged',
          retryable: false,
          // The staging account took its rule with it.
          message: `The rule "staging-self-service" that approved request ${r.id} left the configuration before its access was granted; nothing was granted. Make a new request.`,
        },
      });
      expect(failed.events.find((e) => e.action === 'PROVISIONING_FAILED')!.data).toMatchObject({ awsCode: 'ConfigurationChanged', attempts: 1, cleanup: 'done' });
      expect(w.aws.dump()).toEqual({ roles: {}, userPolicies: {} });
      const res = await call(w.h.api, { method: 'POST', path: `/requests/${r.id}/revoke`, caller: ARN.alice, body: {} });
      expect(res.status).toBe(200);
      const events = (await w.h.requests.getDetail(r.id))!.events.map((e) => e.action);
      expect(events.slice(-2)).toEqual(['REVOKED', 'ACCESS_REMOVED']);
      expect(events).not.toContain('ACCESS_REMOVAL_OWED');
      expect(stagingRoles()).toEqual([]);
    });
  });
});

describe('reconciliation around ended and unconfigured grants', () => {
  it('keeps checking the other grants of an account when one grant\'s profile left the configuration', async () => {
    w = await faultWorld(awsMode());
    const orphaned = await grant('S3ReadOnly', 60);
    const checked = await grant('ReadOnly', 60);
    w.aws.tamper(STAGING, roleName(checked), (role) => (role.MaxSessionDuration = 43200));
    w.h.deps.settings = awsMode(withoutS3ReadOnly);

    const drift = await reconcile(w.h.deps);

    expect(drift).toEqual([{ accountId: STAGING, roleName: roleName(checked), kind: 'session-duration-changed', detail: 'maximum session 43200 s; expected 3600 s', repaired: false }]);
    expect(w.h.logger.lines.filter((l) => l.message === 'reconciliation of a grant failed; the others continue').map((l) => l.fields.grantKey)).toEqual([orphaned.grantKey]);
    expect(w.h.logger.lines.some((l) => l.message === 'reconciliation of an account failed; the others continue')).toBe(false);
    // Its role goes unchecked until it ends or the profile is back: alarmed, not only logged.
    expect(w.h.metrics.counts.get('ReconcileFailed')).toBe(1);
  });

  it('does not report, nor in repair mode delete, the role of a grant that ended a minute ago and awaits the sweeper', async () => {
    w = await faultWorld(awsMode(undefined, 'repair'));
    const r = await grant('ReadOnly', 60);
    w.h.clock.advance(61 * MINUTE);

    const writes = await iamWritesOf(async () => expect(await reconcile(w.h.deps)).toEqual([]));

    expect(writes).toEqual([]);
    expect(w.h.metrics.counts.get('DriftFound') ?? 0).toBe(0);
    expect(stagingRoles()).toEqual([`${STAGING}/${roleName(r)}`]);
    // The sweeper then ends it cleanly: role, identity policy and grant item.
    expect(await sweep(w.h.deps)).toMatchObject({ expired: 1, errors: [] });
    expect(stagingRoles()).toEqual([]);
    expect(identityPolicies()).toEqual([]);
    expect(await w.rawGrant(r.grantKey!)).toBeUndefined();
  });

  it('does not report the role while its request is still ACTIVE in the table, even past the grace window', async () => {
    w = await faultWorld(awsMode());
    const r = await grant('ReadOnly', 60);
    w.h.clock.advance(60 * MINUTE + 30 * MINUTE);

    expect(await reconcile(w.h.deps)).toEqual([]);
    expect((await w.h.requests.get(r.id))!.status).toBe('ACTIVE');
  });

  it('reports a role whose requests ended in the table only once the grace window has passed', async () => {
    w = await faultWorld(awsMode());
    const r = await grant('ReadOnly', 60);
    // Ended in the table while its role stayed (as a removal that failed half-way would leave it).
    const now = w.h.clock.now().toISOString();
    await w.h.requests.commit({ request: { ...r, version: r.version + 1, status: 'EXPIRED', updatedAt: now, endedAt: now }, expectedVersion: r.version, events: [] });
    w.h.clock.advance(60 * MINUTE + 4 * MINUTE);
    expect(await reconcile(w.h.deps)).toEqual([]);

    w.h.clock.advance(2 * MINUTE);
    expect(await reconcile(w.h.deps)).toEqual([
      { accountId: STAGING, roleName: roleName(r), kind: 'unknown-role', detail: 'a rolegate role that no live grant accounts for', repaired: false },
    ]);
    expect(w.h.metrics.counts.get('DriftFound')).toBe(1);
  });
});
