import { createRequest } from '../../../src/domain/use-cases/createRequest';
import { extendRequest } from '../../../src/domain/use-cases/extendRequest';
import { provisionRequest } from '../../../src/domain/use-cases/provisionRequest';
import { DRIFT_REMINDER_HOURS, RECONCILE_EVERY_MINUTES, reconcile } from '../../../src/domain/use-cases/reconcile';
import { allItems } from '../../helpers/table';
import { revokeRequest } from '../../../src/domain/use-cases/endAccess';
import { harness, type Harness } from '../../helpers/harness';
import { RecordingIdentityGranter, RecordingProvisioner, strayRole } from '../../helpers/recording-provisioner';
import { ARN, settingsWith } from '../../helpers/settings';
import type { Settings } from '../../../src/domain/settings';

describe('reconciliation: IAM compared with the live grants', () => {
  let h: Harness;
  let iam: RecordingProvisioner;
  const start = async (driftAction: 'report' | 'repair') => {
    iam = new RecordingProvisioner();
    const settings: Settings = settingsWith((d) => ((d.provisioner as Record<string, unknown>).driftAction = driftAction));
    h = await harness({ settings, provisioner: iam, identity: new RecordingIdentityGranter() });
    // The request whose role unknownRole stands for: made by this deployment, its grant since gone.
    await createRequest(h.deps, { arn: ARN.alice, via: 'api' }, { account: 'production', profile: 'ReadOnly', durationMinutes: 60, reason: 'made the role', requestId: MADE_HERE });
  };
  afterEach(async () => {
    await h.close();
  });

  const MADE_HERE = '01JABCDEFGHJKMNPQRSTVWXY42';
  const unknownRole = strayRole('222222222222', { requestIds: [MADE_HERE] });

  async function liveGrant() {
    const request = await createRequest(h.deps, { arn: ARN.alice, via: 'api' }, { account: 'staging', profile: 'ReadOnly', durationMinutes: 60, reason: 'x' });
    await provisionRequest(h.deps, request.id);
    return (await h.requests.get(request.id))!;
  }

  describe('within its time', () => {
    const unknownIn = (accountId: string) => {
      iam.foreign.set(`${accountId}#${unknownRole.roleName}`, { ...unknownRole, roleArn: `arn:aws:iam::${accountId}:role/rolegate/${unknownRole.roleName}` });
    };
    /** The settings with staging as the only account (report mode): one account, so a run's checks are counted in it. */
    const stagingOnly = () =>
      settingsWith((d) => {
        (d.provisioner as Record<string, unknown>).driftAction = 'report';
        d.accounts = (d.accounts as { alias: string }[]).filter((a) => a.alias === 'staging');
        d.rules = (d.rules as { accounts: string[] }[]).filter((r) => !r.accounts.includes('production'));
      });
    /** In time for the first `n` checks only. */
    const checks = (n: number) => {
      let made = 0;
      return () => made++ < n;
    };

    it('takes up nothing once out of time, and says so', async () => {
      await start('report');
      unknownIn('222222222222');
      unknownIn('333333333333');

      expect(await reconcile(h.deps, { inTime: () => false })).toEqual([]);

      expect(h.metrics.counts.get('ReconcileCutShort')).toBe(1);
      expect(h.logger.lines).toContainEqual(expect.objectContaining({ level: 'warn', message: 'reconciliation stopped to keep within its time; the next runs start elsewhere' }));
    });

    it('counts a run cut short inside its last account, and looks at roles no grant names before the grants', async () => {
      await start('report');
      h.deps.settings = stagingOnly();
      const request = await liveGrant();
      iam.tampered.set(request.grantKey!, { trustPolicy: { Version: '2012-10-17', Statement: [] } });
      unknownIn('222222222222');

      // Time for the account and its one unknown role only: the tampered grant comes after it.
      const drift = await reconcile(h.deps, { inTime: checks(2) });

      expect(drift.map((d) => d.kind)).toEqual(['unknown-role']);
      expect(h.metrics.counts.get('ReconcileCutShort')).toBe(1);
      expect(h.logger.lines).toContainEqual(expect.objectContaining({ level: 'warn', message: 'reconciliation stopped to keep within its time; the next runs start elsewhere', fields: { accountId: '222222222222' } }));
      // With time, the grant's drift is found too.
      expect((await reconcile(h.deps)).map((d) => d.kind).sort()).toEqual(['trust-changed', 'unknown-role']);
    });

    it('reads each role in its turn, after a look at the time: a run cut short after the first reads none of the others', async () => {
      await start('report');
      h.deps.settings = stagingOnly();
      const strays = ['rg-ReadOnly-one-00000001', 'rg-ReadOnly-two-00000002', 'rg-ReadOnly-three-00000003'];
      for (const roleName of strays) iam.foreign.set(`222222222222#${roleName}`, { ...unknownRole, roleName, roleArn: `arn:aws:iam::222222222222:role/rolegate/${roleName}` });

      // One check before the account, one before its first role.
      const drift = await reconcile(h.deps, { inTime: checks(2) });

      expect(drift.map((d) => d.roleName)).toEqual([strays[0]]);
      expect(iam.described).toEqual([strays[0]]);
      expect(h.metrics.counts.get('ReconcileCutShort')).toBe(1);
    });

    it('stops between accounts, and the account a run did not reach is reached by the next runs', async () => {
      await start('report');
      unknownIn('222222222222');
      unknownIn('333333333333');

      // One check before the account, one before its role: the second account finds the time gone.
      const first = (await reconcile(h.deps, { inTime: checks(2) })).map((d) => d.accountId);
      expect(first).toHaveLength(1);
      expect(h.metrics.counts.get('ReconcileCutShort')).toBe(1);

      // Within 2 × 2 / 1 runs (runStart's bound), each cut short the same way.
      const reached = new Set(first);
      for (let run = 1; run < 4; run++) {
        h.clock.advance(RECONCILE_EVERY_MINUTES * 60_000);
        for (const d of await reconcile(h.deps, { inTime: checks(2) })) reached.add(d.accountId);
      }
      expect([...reached].sort()).toEqual(['222222222222', '333333333333']);

      // With time enough, a run covers both.
      expect((await reconcile(h.deps)).map((d) => d.accountId).sort()).toEqual(['222222222222', '333333333333']);
    });
  });

  it('refuses a provisioner that lists roles but cannot re-read one, rather than report no drift', async () => {
    await start('report');
    h.deps.provisioner = { apply: iam.apply.bind(iam), remove: iam.remove.bind(iam), listManagedRoleNames: iam.listManagedRoleNames.bind(iam) };
    await expect(reconcile(h.deps)).rejects.toThrow('reconcile: the provisioner must both list and describe managed roles');
  });

  it('finds nothing when IAM matches the grants', async () => {
    await start('report');
    await liveGrant();
    expect(await reconcile(h.deps)).toEqual([]);
  });

  it('reports an unknown rolegate role without touching it in report mode, and audits it', async () => {
    await start('report');
    iam.foreign.set(`222222222222#${unknownRole.roleName}`, unknownRole);
    const drift = await reconcile(h.deps);
    expect(drift).toEqual([{ accountId: '222222222222', roleName: unknownRole.roleName, kind: 'unknown-role', detail: 'a rolegate role that no live grant accounts for', repaired: false }]);
    expect(iam.foreign.size).toBe(1);
    expect(h.logger.lines.filter((l) => l.message === 'drift found').map((l) => [l.fields.roleName, l.fields.audited])).toEqual([[unknownRole.roleName, true]]);
    const audited = (await allItems(h)).filter((i) => i.pk === 'REQ#account:222222222222' && i.action === 'DRIFT_DETECTED');
    expect(audited).toEqual([expect.objectContaining({ actor: 'rolegate', comment: 'unknown-role: a rolegate role that no live grant accounts for' })]);
  });

  it('removes an unknown rolegate role in repair mode, but never a role rolegate did not create, nor one another deployment made', async () => {
    await start('repair');
    iam.foreign.set(`222222222222#${unknownRole.roleName}`, unknownRole);
    iam.foreign.set('222222222222#someone-elses', { ...unknownRole, roleName: 'someone-elses', managedByRolegate: false });
    // Tagged rolegate's, but its requests are in another deployment's table (a staging stack in the same account).
    iam.foreign.set('222222222222#rg-ReadOnly-bob-0badf00d', { ...unknownRole, roleName: 'rg-ReadOnly-bob-0badf00d', requestIds: ['01JABCDEFGHJKMNPQRSTVWXY99'] });
    iam.foreign.set('222222222222#rg-ReadOnly-carol-0badf00d', { ...unknownRole, roleName: 'rg-ReadOnly-carol-0badf00d', requestIds: undefined });
    const drift = await reconcile(h.deps);
    expect(drift.map((d) => [d.roleName, d.repaired])).toEqual([
      [unknownRole.roleName, true],
      ['someone-elses', false],
      ['rg-ReadOnly-bob-0badf00d', false],
      ['rg-ReadOnly-carol-0badf00d', false],
    ]);
    expect(drift.find((d) => d.roleName === 'rg-ReadOnly-bob-0badf00d')!.detail).toBe(
      "a rolegate role that none of this deployment's requests made (another rolegate deployment's, or older than this table): left as it is",
    );
    expect([...iam.foreign.keys()].sort()).toEqual(['222222222222#rg-ReadOnly-bob-0badf00d', '222222222222#rg-ReadOnly-carol-0badf00d', '222222222222#someone-elses']);
  });

  it('repairs a tampered trust policy and records drift on the grant\'s request', async () => {
    await start('repair');
    const request = await liveGrant();
    iam.tampered.set(request.grantKey!, { trustPolicy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: '*' }, Action: 'sts:AssumeRole' }] } });

    const drift = await reconcile(h.deps);

    expect(drift).toEqual([expect.objectContaining({ kind: 'trust-changed', repaired: true })]);
    expect(iam.tampered.size).toBe(0);
    expect(await reconcile(h.deps)).toEqual([]);
    const events = (await h.requests.getDetail(request.id))!.events.map((e) => e.action);
    expect(events.slice(-2)).toEqual(['DRIFT_DETECTED', 'DRIFT_REPAIRED']);
    expect(h.notifier.sent.at(-1)).toMatchObject({ kind: 'drift.detected', comment: 'trust-changed: the trust policy differs from the desired one (repaired)' });
  });

  it('reports tags rolegate did not write on a grant role (a policy keyed on them may widen it), and never removes them, in repair mode too', async () => {
    await start('repair');
    const request = await liveGrant();
    iam.tampered.set(request.grantKey!, { otherTagKeys: ['access-team', 'project'] });
    const applied = iam.log.length;

    const drift = await reconcile(h.deps);

    expect(drift).toEqual([
      expect.objectContaining({
        kind: 'tags-added',
        repaired: false,
        detail: "tags rolegate did not write: access-team, project (a policy keyed on them may widen the role's access); rolegate leaves them: remove them if nobody meant them",
      }),
    ]);
    expect(iam.log.length).toBe(applied);
    expect(iam.tampered.get(request.grantKey!)).toEqual({ otherTagKeys: ['access-team', 'project'] });
    expect((await h.requests.getDetail(request.id))!.events.map((e) => e.action).at(-1)).toBe('DRIFT_DETECTED');

    // The grant moves on (an extension joins: new end in the trust and the inline policy), the tags stay: the same drift,
    // reported by the log at each run but audited and announced once.
    const extension = await extendRequest(h.deps, { arn: ARN.alice, via: 'api' }, request.id, { durationMinutes: 30, reason: 'more' });
    await provisionRequest(h.deps, extension.id);
    expect(await reconcile(h.deps)).toEqual([expect.objectContaining({ kind: 'tags-added' })]);
    const audited = async (id: string) => (await h.requests.getDetail(id))!.events.filter((e) => e.action === 'DRIFT_DETECTED').length;
    expect((await audited(request.id)) + (await audited(extension.id))).toBe(1);
  });

  it('reports a tag added by hand under rolegate: too, which is none of the keys rolegate writes', async () => {
    await start('report');
    const request = await liveGrant();
    iam.tampered.set(request.grantKey!, { otherTagKeys: ['rolegate:team'] });
    expect(await reconcile(h.deps)).toEqual([expect.objectContaining({ kind: 'tags-added', detail: expect.stringContaining('tags rolegate did not write: rolegate:team') })]);
  });

  it('takes a trust written before rolegate allowed source identities (sts:AssumeRole alone, no pin) as no drift: it admits fewer sessions, never more', async () => {
    await start('repair');
    const request = await liveGrant();
    const spec = iam.roles.get(request.grantKey!)!;
    const trust = (await iam.describeManagedRole(spec.account, spec.roleName))!.trustPolicy as { Statement: Record<string, unknown>[] };
    const { StringEqualsIfExists: pin, ...conditions } = trust.Statement[0]!.Condition as Record<string, unknown>;
    expect(pin).toEqual({ 'sts:SourceIdentity': '${aws:SourceIdentity}' });
    const before = { ...trust, Statement: [{ ...trust.Statement[0], Action: 'sts:AssumeRole', Condition: conditions }] };
    iam.tampered.set(request.grantKey!, { trustPolicy: before });
    const applied = iam.log.length;

    expect(await reconcile(h.deps)).toEqual([]);

    expect(iam.log.length).toBe(applied);
    expect(iam.tampered.get(request.grantKey!)).toEqual({ trustPolicy: before });
    expect((await h.requests.getDetail(request.id))!.events.filter((e) => e.action.startsWith('DRIFT_'))).toEqual([]);
    // Only that shape: the old trust until a later end is drift as before.
    const later = { ...before, Statement: [{ ...before.Statement[0], Condition: { ...conditions, DateLessThan: { 'aws:CurrentTime': '2099-01-01T00:00:00.000Z' } } }] };
    iam.tampered.set(request.grantKey!, { trustPolicy: later });
    expect(await reconcile(h.deps)).toEqual([expect.objectContaining({ kind: 'trust-changed', repaired: true })]);
  });

  it('never writes back the ARN of a grantee IAM shows as deleted (a principal made since under that name is someone else), and says to revoke', async () => {
    await start('repair');
    const request = await liveGrant();
    const key = request.grantKey!;
    const spec = iam.roles.get(key)!;
    const trust = (await iam.describeManagedRole(spec.account, spec.roleName))!.trustPolicy as { Statement: Record<string, unknown>[] };
    // What IAM shows once alice is deleted: her unique id in place of her ARN, the rest as written.
    const voided = { ...trust, Statement: [{ ...trust.Statement[0], Principal: { AWS: 'AIDAJQABLZS4A3QDU576Q' } }] };
    iam.tampered.set(key, { trustPolicy: voided });
    const applied = iam.log.length;

    expect(await reconcile(h.deps)).toEqual([expect.objectContaining({ kind: 'principal-deleted', repaired: false })]);

    expect(iam.log.length).toBe(applied);
    expect(iam.tampered.get(key)).toEqual({ trustPolicy: voided });
    const drift = (await h.requests.getDetail(request.id))!.events.filter((e) => e.action.startsWith('DRIFT_'));
    expect(drift.map((e) => e.action)).toEqual(['DRIFT_DETECTED']);
    expect(drift[0]!.comment).toMatch(/^principal-deleted: the trust names AIDAJQABLZS4A3QDU576Q, .*revoke the request$/);
    // A trust naming some other principal by ARN is still tampering, and still repaired.
    iam.tampered.set(key, { trustPolicy: { ...trust, Statement: [{ ...trust.Statement[0], Principal: { AWS: ARN.bob } }] } });
    expect(await reconcile(h.deps)).toEqual([expect.objectContaining({ kind: 'trust-changed', repaired: true })]);
  });

  it('leaves a drift unrepaired, reported, when the reads under the lease used up the time a repair needs; the next run repairs it', async () => {
    await start('repair');
    const request = await liveGrant();
    const tampered = { trustPolicy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: '*' }, Action: 'sts:AssumeRole' }] } };
    iam.tampered.set(request.grantKey!, tampered);
    // Every re-read of the role under the lease takes 61 s (slow IAM, retries): of the 120 s lease, less than REPAIR_NEEDS_MS is left.
    const describe = iam.describeManagedRole.bind(iam);
    iam.describeManagedRole = async (...args) => {
      h.clock.advance(61_000);
      return describe(...args);
    };

    expect(await reconcile(h.deps)).toEqual([expect.objectContaining({ kind: 'trust-changed', repaired: false })]);
    expect(iam.tampered.get(request.grantKey!)).toEqual(tampered);
    expect(h.logger.lines).toContainEqual(expect.objectContaining({ level: 'warn', message: 'reconciliation left a drift unrepaired: too little of the grant lease is left; the next run repairs it' }));

    iam.describeManagedRole = describe;
    expect(await reconcile(h.deps)).toEqual([expect.objectContaining({ kind: 'trust-changed', repaired: true })]);
    expect(iam.tampered.size).toBe(0);
  });

  describe('a change between the role listing and the grant listing is not drift', () => {
    it('a grant provisioned after the listing: its role is not reported missing', async () => {
      await start('report');
      iam.afterListing = async () => void (await liveGrant());
      expect(await reconcile(h.deps)).toEqual([]);
      expect(iam.roles.size).toBe(1);
    });

    it('a grant widened after the listing: its older trust is not reported changed', async () => {
      await start('report');
      await liveGrant();
      iam.afterListing = async () => {
        h.clock.advance(10 * 60_000);
        await liveGrant();
      };
      expect(await reconcile(h.deps)).toEqual([]);
      expect([...iam.roles.values()][0]!.requestIds).toHaveLength(2);
    });

    it('a grant ended after the listing: its deleted role is not reported unknown', async () => {
      await start('report');
      const request = await liveGrant();
      iam.afterListing = async () => void (await revokeRequest(h.deps, { arn: ARN.alice, via: 'api' }, request.id));
      expect(await reconcile(h.deps)).toEqual([]);
      expect(iam.roles.size).toBe(0);
    });

    it('a tampering undone after the listing: nothing is reported, while one that stays is', async () => {
      await start('report');
      await liveGrant();
      const key = `222222222222#${[...iam.roles.values()][0]!.roleName}`;
      iam.tampered.set(key, { attachedPolicyArns: ['arn:aws:iam::aws:policy/AdministratorAccess'] });
      iam.afterListing = async () => void iam.tampered.delete(key);
      expect(await reconcile(h.deps)).toEqual([]);

      iam.tampered.set(key, { attachedPolicyArns: ['arn:aws:iam::aws:policy/AdministratorAccess'] });
      expect(await reconcile(h.deps)).toEqual([expect.objectContaining({ kind: 'permissions-changed', repaired: false })]);
    });
  });

  describe('what it cannot check is counted (ReconcileFailed, alarmed), not only logged', () => {
    const denied = () => Object.assign(new Error('User is not authorized to perform: sts:AssumeRole'), { name: 'AccessDenied' });

    it('an account it cannot list: counted once, and the other account is still checked', async () => {
      await start('report');
      iam.foreign.set(`333333333333#${unknownRole.roleName}`, { ...unknownRole, roleArn: `arn:aws:iam::333333333333:role/rolegate/${unknownRole.roleName}` });
      const list = iam.listManagedRoleNames.bind(iam);
      iam.listManagedRoleNames = async (account) => {
        if (account.id === '222222222222') throw denied();
        return list(account);
      };

      const drift = await reconcile(h.deps);

      expect(drift.map((d) => [d.accountId, d.kind])).toEqual([['333333333333', 'unknown-role']]);
      expect(h.metrics.counts.get('ReconcileFailed')).toBe(1);
      expect(h.logger.lines.filter((l) => l.level === 'error').map((l) => [l.message, l.fields.accountId])).toEqual([
        ['reconciliation of an account failed; the others continue', '222222222222'],
      ]);
    });

    it('a grant whose role it cannot re-read: counted once per run', async () => {
      await start('report');
      const request = await liveGrant();
      iam.tampered.set(request.grantKey!, { maxSessionDuration: 43200 });
      iam.describeManagedRole = async () => {
        throw denied();
      };

      expect(await reconcile(h.deps)).toEqual([]);
      expect(await reconcile(h.deps)).toEqual([]);

      expect(h.metrics.counts.get('ReconcileFailed')).toBe(2);
      expect(h.logger.lines.filter((l) => l.level === 'error').map((l) => [l.message, l.fields.grantKey])).toEqual([
        ['reconciliation of a grant failed; the others continue', request.grantKey],
        ['reconciliation of a grant failed; the others continue', request.grantKey],
      ]);
    });

    it('a role no grant names that it cannot re-read: counted once', async () => {
      await start('report');
      iam.foreign.set(`222222222222#${unknownRole.roleName}`, unknownRole);
      iam.describeManagedRole = async () => {
        throw denied();
      };

      expect(await reconcile(h.deps)).toEqual([]);

      expect(h.metrics.counts.get('ReconcileFailed')).toBe(1);
      expect(h.logger.lines.filter((l) => l.level === 'error').map((l) => [l.message, l.fields.roleName])).toEqual([
        ['reconciliation of a role failed; the others continue', unknownRole.roleName],
      ]);
    });

    it('a grant whose member request is not in the table: counted and named, never skipped in silence', async () => {
      await start('report');
      const request = await liveGrant();
      const get = h.requests.get.bind(h.requests);
      h.deps.requests.get = async (id) => (id === request.id ? undefined : get(id));

      expect(await reconcile(h.deps)).toEqual([]);

      expect(h.metrics.counts.get('ReconcileFailed')).toBe(1);
      expect(h.logger.lines.filter((l) => l.level === 'error').map((l) => [l.message, l.fields.grantKey, String(l.fields.error)])).toEqual([
        ['reconciliation of a grant failed; the others continue', request.grantKey, expect.stringContaining(`its member request ${request.id} is not in the table`)],
      ]);
    });

    it('counts nothing when every check succeeds, drift or not', async () => {
      await start('report');
      const request = await liveGrant();
      iam.tampered.set(request.grantKey!, { maxSessionDuration: 43200 });

      expect(await reconcile(h.deps)).toEqual([expect.objectContaining({ kind: 'session-duration-changed' })]);

      expect(h.metrics.counts.get('ReconcileFailed')).toBeUndefined();
    });
  });

  describe('a drift that stays', () => {
    const RUN = RECONCILE_EVERY_MINUTES * 60_000;
    const driftLines = () => h.logger.lines.filter((l) => l.message === 'drift found').map((l) => l.fields.audited);
    /** The audit events of drift in the table, under the request or `account:<id>` they are recorded on. */
    const driftEvents = async (on: string) =>
      (await allItems(h)).filter((i) => i.pk === `REQ#${on}` && typeof i.action === 'string' && String(i.action).startsWith('DRIFT_')).map((i) => `${String(i.action)} ${String(i.comment ?? '')}`);

    it('is audited and announced when found and when it changes, while every run logs and counts it (the alarm)', async () => {
      await start('report');
      const request = await liveGrant();
      iam.tampered.set(request.grantKey!, { attachedPolicyArns: ['arn:aws:iam::aws:policy/AdministratorAccess', 'arn:aws:iam::aws:policy/ReadOnlyAccess'] });

      for (let run = 0; run < 3; run++) {
        expect(await reconcile(h.deps)).toEqual([expect.objectContaining({ kind: 'permissions-changed', repaired: false })]);
        h.clock.advance(RUN);
      }
      // Changed since: a new finding, audited at once.
      iam.tampered.set(request.grantKey!, { attachedPolicyArns: ['arn:aws:iam::aws:policy/IAMFullAccess', 'arn:aws:iam::aws:policy/ReadOnlyAccess'] });
      await reconcile(h.deps);

      expect(h.metrics.counts.get('DriftFound')).toBe(4);
      expect(driftLines()).toEqual([true, false, false, true]);
      expect(await driftEvents(request.id)).toEqual([
        'DRIFT_DETECTED permissions-changed: attached arn:aws:iam::aws:policy/AdministratorAccess, arn:aws:iam::aws:policy/ReadOnlyAccess; inline rolegate-profile',
        'DRIFT_DETECTED permissions-changed: attached arn:aws:iam::aws:policy/IAMFullAccess, arn:aws:iam::aws:policy/ReadOnlyAccess; inline rolegate-profile',
      ]);
      expect(h.notifier.sent.filter((n) => n.kind === 'drift.detected')).toHaveLength(2);
    });

    it('is audited again when the role is tampered with in another way that reads the same (the trust, edited twice)', async () => {
      await start('report');
      const request = await liveGrant();
      const trusting = (who: string) => ({ trustPolicy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: who }, Action: 'sts:AssumeRole' }] } });

      iam.tampered.set(request.grantKey!, trusting('arn:aws:iam::999999999999:root'));
      await reconcile(h.deps);
      h.clock.advance(RUN);
      iam.tampered.set(request.grantKey!, trusting('arn:aws:iam::888888888888:root'));
      await reconcile(h.deps);
      h.clock.advance(RUN);
      await reconcile(h.deps);

      expect(driftLines()).toEqual([true, true, false]);
      expect(await driftEvents(request.id)).toEqual(Array(2).fill('DRIFT_DETECTED trust-changed: the trust policy differs from the desired one'));
    });

    it('is audited again when it comes back after it went away (repaired by hand, done again)', async () => {
      await start('report');
      const request = await liveGrant();
      const tamper = () => iam.tampered.set(request.grantKey!, { attachedPolicyArns: ['arn:aws:iam::aws:policy/AdministratorAccess', 'arn:aws:iam::aws:policy/ReadOnlyAccess'] });

      tamper();
      expect(await reconcile(h.deps)).toHaveLength(1);
      iam.tampered.delete(request.grantKey!);
      for (let run = 0; run < 2; run++) {
        h.clock.advance(RUN);
        expect(await reconcile(h.deps)).toEqual([]);
      }
      h.clock.advance(RUN);
      tamper();
      expect(await reconcile(h.deps)).toHaveLength(1);

      expect(driftLines()).toEqual([true, true]);
      expect(await driftEvents(request.id)).toHaveLength(2);
    });

    it('is audited again once a day while it stays (a role no grant names, audited under its account)', async () => {
      await start('report');
      iam.foreign.set(`222222222222#${unknownRole.roleName}`, unknownRole);
      const runs = async (n: number) => {
        for (let i = 0; i < n; i++) {
          expect(await reconcile(h.deps)).toEqual([expect.objectContaining({ kind: 'unknown-role' })]);
          h.clock.advance(RUN);
        }
      };

      // A day of runs, then the first run past the day.
      await runs((DRIFT_REMINDER_HOURS * 60) / RECONCILE_EVERY_MINUTES);
      await runs(1);

      const audited = driftLines();
      expect(audited.filter(Boolean)).toHaveLength(2);
      expect([audited[0], audited.at(-1)]).toEqual([true, true]);
      expect(await driftEvents('account:222222222222')).toEqual([
        'DRIFT_DETECTED unknown-role: a rolegate role that no live grant accounts for',
        'DRIFT_DETECTED unknown-role: a rolegate role that no live grant accounts for',
      ]);
    });

    it('is audited at every repair: each is an act of rolegate\'s', async () => {
      await start('repair');
      const request = await liveGrant();
      const tamper = () => iam.tampered.set(request.grantKey!, { trustPolicy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: '*' }, Action: 'sts:AssumeRole' }] } });

      tamper();
      await reconcile(h.deps);
      h.clock.advance(RUN);
      tamper();
      await reconcile(h.deps);

      expect(await driftEvents(request.id)).toEqual([
        'DRIFT_DETECTED trust-changed: the trust policy differs from the desired one (repaired)',
        'DRIFT_REPAIRED ',
        'DRIFT_DETECTED trust-changed: the trust policy differs from the desired one (repaired)',
        'DRIFT_REPAIRED ',
      ]);
      expect(driftLines()).toEqual([true, true]);
    });
  });

  it('reports an extra attached policy as a permissions change', async () => {
    await start('report');
    const request = await liveGrant();
    iam.tampered.set(request.grantKey!, { attachedPolicyArns: ['arn:aws:iam::aws:policy/AdministratorAccess', 'arn:aws:iam::aws:policy/ReadOnlyAccess'] });
    expect(await reconcile(h.deps)).toEqual([expect.objectContaining({ kind: 'permissions-changed', repaired: false })]);
  });
});
