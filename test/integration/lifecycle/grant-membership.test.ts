import { ProvisioningError } from '../../../src/domain/errors';
import type { RequestStore } from '../../../src/domain/ports';
import type { Settings } from '../../../src/domain/settings';
import { createRequest } from '../../../src/domain/use-cases/createRequest';
import { revokeRequest } from '../../../src/domain/use-cases/endAccess';
import { provisionRequest } from '../../../src/domain/use-cases/provisionRequest';
import { reconcile } from '../../../src/domain/use-cases/reconcile';
import { sweep } from '../../../src/domain/use-cases/sweep';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { grantItemKey } from '../../../src/adapters/dynamodb/keys';
import { harness, type Harness } from '../../helpers/harness';
import { RecordingIdentityGranter, RecordingProvisioner } from '../../helpers/recording-provisioner';
import { ARN, settingsWith } from '../../helpers/settings';

/*
 * A request that never became ACTIVE must never keep access alive, whatever
 * point an earlier attempt died at; and reconciliation, working from a
 * listing that may be minutes old, must never bring back or take away a role
 * against the grant as it is when it acts. (Found by a review of the
 * provisioning paths; each case failed before the fix.)
 */

const api = (arn: string) => ({ arn, via: 'api' as const });
let h: Harness;
let iam: RecordingProvisioner;
let identity: RecordingIdentityGranter;

async function start(driftAction: 'report' | 'repair' = 'report') {
  iam = new RecordingProvisioner();
  identity = new RecordingIdentityGranter();
  const settings: Settings = settingsWith((d) => ((d.provisioner as Record<string, unknown>).driftAction = driftAction));
  h = await harness({ settings, provisioner: iam, identity });
}
afterEach(async () => {
  await h.close();
});

/** The next commit to ACTIVE is lost: the invocation dies after the role and the grant were written. */
function loseNextActiveCommit(): void {
  const real = h.requests;
  let armed = true;
  const lossy: RequestStore = {
    commit: async (w) => {
      if (armed && w.request.status === 'ACTIVE') {
        armed = false;
        throw new Error('injected: the ACTIVE commit is lost');
      }
      return real.commit(w);
    },
    get: (id) => real.get(id),
    getDetail: (id) => real.getDetail(id),
    list: (q) => real.list(q),
    extensionsOf: (id) => real.extensionsOf(id),
    listDue: (k, b, l, c) => real.listDue(k, b, l, c),
    appendEvents: (e) => real.appendEvents(e),
    appendEventsWhileAt: (e, at) => real.appendEventsWhileAt(e, at),
    appendReport: (e, r) => real.appendReport(e, r),
    claimed: (r, k, a) => real.claimed(r, k, a),
  };
  h.deps.requests = lossy;
}

const readOnly = (minutes: number) => createRequest(h.deps, api(ARN.alice), { account: 'staging', profile: 'ReadOnly', durationMinutes: minutes, reason: 'read the logs' });

it('a request whose ACTIVE commit was lost, re-driven after its end, expires and takes its role and identity policy with it', async () => {
  await start();
  const r = await readOnly(15);
  loseNextActiveCommit();
  await expect(provisionRequest(h.deps, r.id)).rejects.toThrow('injected');
  h.deps.requests = h.requests;
  expect(iam.roles.size).toBe(1);
  expect(identity.policies.size).toBe(1);

  h.clock.advance(16 * 60_000);
  await sweep(h.deps);

  const after = (await h.requests.get(r.id))!;
  expect(after.status).toBe('EXPIRED');
  expect(iam.roles.size).toBe(0);
  expect(identity.policies.size).toBe(0);
  expect(await h.grants.listByAccount('222222222222')).toEqual([]);
  const events = (await h.requests.getDetail(r.id))!.events;
  expect(events.map((e) => e.action).slice(-2)).toEqual(['EXPIRED', 'ACCESS_REMOVED']);
  expect(events.at(-1)!.data).toMatchObject({ roleDeleted: true, stillCoveredBy: [] });
});

it('a request that failed after it was written into a shared grant leaves the grant, so ending the live one removes the role', async () => {
  await start();
  const live = await readOnly(60);
  await provisionRequest(h.deps, live.id);
  const failing = await readOnly(480);
  loseNextActiveCommit();
  await expect(provisionRequest(h.deps, failing.id)).rejects.toThrow('injected');
  h.deps.requests = h.requests;
  iam.failNext = [new ProvisioningError('User is not authorized to perform iam:AttachRolePolicy', 'AccessDenied', false)];

  expect((await provisionRequest(h.deps, failing.id)).outcome).toBe('failed');

  // The role and the identity policy are back to the live request's end, and only it is in the grant.
  const { grantKey, endsAt } = (await h.requests.get(live.id))!;
  expect(Object.keys((await h.grants.get(grantKey!))!.members)).toEqual([live.id]);
  expect(iam.roles.get(grantKey!)!.endsAt).toBe(endsAt);
  expect(identity.policies.get(grantKey!)!.endsAt).toBe(endsAt);

  await revokeRequest(h.deps, api(ARN.alice), live.id);
  expect(iam.roles.has(grantKey!)).toBe(false);
  expect(identity.policies.has(grantKey!)).toBe(false);
  expect(await h.grants.get(grantKey!)).toBeUndefined();
});

it('reconciliation does not bring back a role whose request was revoked between its listing and the repair', async () => {
  await start('repair');
  const r = await readOnly(240);
  await provisionRequest(h.deps, r.id);
  const grantKey = (await h.requests.get(r.id))!.grantKey!;
  iam.tampered.set(grantKey, { trustPolicy: { Version: '2012-10-17', Statement: [] } });
  // The revoke lands after reconciliation listed the grants, just before it takes the lease.
  const grants = h.grants;
  let revoked = false;
  h.deps.grants = Object.assign(Object.create(grants), {
    acquire: async (...args: Parameters<typeof grants.acquire>) => {
      if (!revoked) {
        revoked = true;
        await revokeRequest({ ...h.deps, grants }, api(ARN.alice), r.id);
      }
      return grants.acquire(...args);
    },
  });

  const drift = await reconcile(h.deps);

  // Revoking removed the role, as it should: nothing is brought back, and nothing is left to report.
  expect(revoked).toBe(true);
  expect(drift).toEqual([]);
  expect(iam.roles.has(grantKey)).toBe(false);
  expect((await h.requests.get(r.id))!.status).toBe('REVOKED');
});

it('reconciliation does not delete a role a provisioning in flight created but has not yet recorded in its grant', async () => {
  await start('repair');
  const r = await readOnly(60);
  await provisionRequest(h.deps, r.id);
  const grantKey = (await h.requests.get(r.id))!.grantKey!;
  const grant = (await h.grants.get(grantKey))!;
  const grants = h.grants;
  let listed = false;
  h.deps.grants = Object.assign(Object.create(grants), {
    // The listing misses the grant, as it would before provisioning saves it...
    listByAccount: async (accountId: string) => {
      listed = true;
      return (await grants.listByAccount(accountId)).filter((g) => g.grantKey !== grantKey);
    },
  });

  const drift = await reconcile(h.deps);

  // ...but under the lease the grant is there with a live request: no drift, and never removed.
  expect(listed).toBe(true);
  expect(drift).toEqual([]);
  expect(iam.roles.has(grantKey)).toBe(true);
  expect((await h.grants.get(grantKey))!.members).toEqual(grant.members);
});

describe('ExternalId terms and shared roles', () => {
  const WORKLOAD_RULE = {
    id: 'workloads',
    requesters: ['arn:aws:iam::111111111111:user/*', 'arn:aws:iam::111111111111:role/app-*'],
    accounts: ['staging'],
    profiles: ['ReadOnly'],
    maxDurationMinutes: 480,
    autoApprove: true,
    workloadPrincipals: ['arn:aws:iam::111111111111:role/app-*'],
    workloadExternalId: 'wl-secret-1',
  };
  const startWith = async (externalId: string) => {
    iam = new RecordingProvisioner();
    identity = new RecordingIdentityGranter();
    const settings = settingsWith((d) => (d.rules as unknown[]).unshift({ ...WORKLOAD_RULE, workloadExternalId: externalId }));
    h = await harness({ settings, provisioner: iam, identity });
  };
  const externalIdOf = (grantKey: string) => iam.roles.get(grantKey)?.externalId;

  it('a request for a workload that needs an ExternalId never shares, or rewrites, the role of one that does not', async () => {
    await startWith('wl-secret-1');
    const forApp = await createRequest(h.deps, api(ARN.alice), { account: 'staging', profile: 'ReadOnly', durationMinutes: 240, reason: 'x', principalArn: ARN.appRole });
    await provisionRequest(h.deps, forApp.id);
    const self = await createRequest(h.deps, api(ARN.appRole), { account: 'staging', profile: 'ReadOnly', durationMinutes: 60, reason: 'y' });
    await provisionRequest(h.deps, self.id);

    const a = (await h.requests.get(forApp.id))!;
    const b = (await h.requests.get(self.id))!;
    expect([a.status, b.status]).toEqual(['ACTIVE', 'ACTIVE']);
    expect(a.grantKey).not.toBe(b.grantKey);
    expect(externalIdOf(a.grantKey!)).toBe('wl-secret-1');
    expect(externalIdOf(b.grantKey!)).toBeUndefined();

    await revokeRequest(h.deps, api(ARN.appRole), self.id);
    expect(iam.roles.has(b.grantKey!)).toBe(false);
    expect(externalIdOf(a.grantKey!)).toBe('wl-secret-1');
  });

  describe('after the workload rule leaves the configuration', () => {
    async function grantedThenRuleRemoved(): Promise<string> {
      await startWith('wl-secret-1');
      const r = await createRequest(h.deps, api(ARN.alice), { account: 'staging', profile: 'ReadOnly', durationMinutes: 240, reason: 'x', principalArn: ARN.appRole });
      await provisionRequest(h.deps, r.id);
      // The rule goes; the live grant's trust still demands the ExternalId the configuration no longer knows.
      h.deps.settings = settingsWith((d) => ((d.provisioner as Record<string, unknown>).driftAction = 'repair'));
      return (await h.requests.get(r.id))!.grantKey!;
    }

    it('reconciliation compares the role under the ExternalId its grant recorded: untouched, no drift', async () => {
      const held = await grantedThenRuleRemoved();
      expect((await h.grants.get(held))!.terms).toEqual({ externalId: 'wl-secret-1' });
      const applied = iam.log.length;

      expect(await reconcile(h.deps)).toEqual([]);

      expect(iam.log.length).toBe(applied);
      expect(externalIdOf(held)).toBe('wl-secret-1');
      expect(h.logger.lines.filter((l) => l.level === 'error')).toEqual([]);
    });

    it('and a hand change to it is still found, and repaired with the recorded ExternalId', async () => {
      const held = await grantedThenRuleRemoved();
      iam.tampered.set(held, { attachedPolicyArns: ['arn:aws:iam::aws:policy/AdministratorAccess'] });

      const drift = await reconcile(h.deps);

      expect(drift).toEqual([expect.objectContaining({ roleName: held.split('#')[1], repaired: true })]);
      expect(iam.tampered.has(held)).toBe(false);
      expect(externalIdOf(held)).toBe('wl-secret-1');
    });

    it('a grant written before grants recorded it is not compared (logged), never stripped of its ExternalId', async () => {
      const held = await grantedThenRuleRemoved();
      await h.requests.doc.send(new UpdateCommand({ TableName: h.tableName, Key: grantItemKey(held), UpdateExpression: 'REMOVE terms' }));
      const applied = iam.log.length;

      expect(await reconcile(h.deps)).toEqual([]);

      expect(iam.log.length).toBe(applied);
      expect(externalIdOf(held)).toBe('wl-secret-1');
      expect(h.notifier.sent.map((n) => n.kind)).not.toContain('drift.detected');
      expect(h.logger.lines.filter((l) => l.message === 'reconciliation of a grant failed; the others continue').map((l) => l.fields.error)).toEqual([
        `Grant ${held} is not compared: the rule that set its workload's ExternalId (workloads) is no longer in the configuration, and the grant, written before grants recorded it, does not say what it was.`,
      ]);
      expect(h.metrics.counts.get('ReconcileFailed')).toBe(1);
    });

    it('a revoke of one of two requests narrows the shared role under the recorded ExternalId', async () => {
      await startWith('wl-secret-1');
      const short = await createRequest(h.deps, api(ARN.alice), { account: 'staging', profile: 'ReadOnly', durationMinutes: 60, reason: 'x', principalArn: ARN.appRole });
      const long = await createRequest(h.deps, api(ARN.alice), { account: 'staging', profile: 'ReadOnly', durationMinutes: 240, reason: 'y', principalArn: ARN.appRole });
      await provisionRequest(h.deps, short.id);
      await provisionRequest(h.deps, long.id);
      const held = (await h.requests.get(long.id))!.grantKey!;
      h.deps.settings = settingsWith(() => undefined);

      await revokeRequest(h.deps, api(ARN.alice), long.id);

      expect(iam.roles.get(held)).toMatchObject({ endsAt: short.endsAt, externalId: 'wl-secret-1', requestIds: [short.id] });
    });
  });

  it('a provisioned request is ended on the role it holds even after its rule\'s ExternalId was rotated', async () => {
    await startWith('wl-secret-1');
    const r = await createRequest(h.deps, api(ARN.alice), { account: 'staging', profile: 'ReadOnly', durationMinutes: 240, reason: 'x', principalArn: ARN.appRole });
    await provisionRequest(h.deps, r.id);
    const held = (await h.requests.get(r.id))!.grantKey!;

    h.deps.settings = settingsWith((d) => (d.rules as unknown[]).unshift({ ...WORKLOAD_RULE, workloadExternalId: 'wl-secret-2' }));
    await revokeRequest(h.deps, api(ARN.alice), r.id);

    expect(iam.roles.has(held)).toBe(false);
    expect(iam.roles.size).toBe(0);
    expect(await h.grants.get(held)).toBeUndefined();
  });
});

it('puts identity-side policies only on principals of the identity account, never on a same-named principal there', async () => {
  iam = new RecordingProvisioner();
  identity = new RecordingIdentityGranter();
  // A rule for users of another account (444444444444); the identity account is 111111111111.
  const settings = settingsWith((d) =>
    (d.rules as unknown[]).unshift({ id: 'partners', requesters: ['arn:aws:iam::444444444444:user/*'], accounts: ['staging'], profiles: ['ReadOnly'], maxDurationMinutes: 60, autoApprove: true }),
  );
  h = await harness({ settings, provisioner: iam, identity });
  expect(settings.identityAccountId).toBe('111111111111');

  const partner = await createRequest(h.deps, api('arn:aws:iam::444444444444:user/alice'), { account: 'staging', profile: 'ReadOnly', durationMinutes: 60, reason: 'x' });
  const local = await readOnly(60);
  await provisionRequest(h.deps, partner.id);
  await provisionRequest(h.deps, local.id);

  const [p, l] = [(await h.requests.get(partner.id))!, (await h.requests.get(local.id))!];
  expect([p.status, l.status]).toEqual(['ACTIVE', 'ACTIVE']);
  expect(iam.roles.size).toBe(2);
  expect([...identity.policies.entries()]).toEqual([[l.grantKey, expect.objectContaining({ principal: ARN.alice })]]);

  await revokeRequest(h.deps, api('arn:aws:iam::444444444444:user/alice'), partner.id);
  expect([...identity.policies.keys()]).toEqual([l.grantKey]);
  expect(iam.roles.size).toBe(1);
});
