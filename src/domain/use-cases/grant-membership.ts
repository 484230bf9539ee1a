import { ConflictError, noteWritesSent, ProvisioningError, writesSentBefore } from '../errors';
import { accountForGrant, grantEnd, grantOfAnother, liveMembers, nextGrant, specFor, withRecordedTerms, type GrantLocation, type GrantTarget, type LeaseOptions } from '../grants';
import type { PlannedCall } from '../model';
import type { GrantLease, IdentityGranter } from '../ports';
import type { Principal } from '../principal';
import type { ProvisioningDeps } from './provisionRequest';

/** How every use-case takes a grant's lease. */
export function leaseOptions(deps: ProvisioningDeps): LeaseOptions {
  return { grants: deps.grants, ids: deps.ids, now: () => deps.clock.now(), logger: deps.logger, ...deps.lease };
}

/** Paths of roles only AWS may change (IAM Identity Center and service-linked roles): IAM refuses policies put on them. */
const AWS_MANAGED_ROLE_PATHS = ['/aws-reserved/', '/aws-service-role/'];

/**
 * The identity-side granter for a principal, when identity grants are on and
 * the principal lives in the identity account. A principal of another
 * account gets its sts:AssumeRole from that account: rolegate's identity
 * policy would land on an unrelated principal that merely shares its name.
 * A role that only AWS may change (an IAM Identity Center role) gets it
 * from its permission set instead.
 */
export function identityGranterFor(deps: Pick<ProvisioningDeps, 'identity' | 'settings'>, principal: Principal): IdentityGranter | undefined {
  if (!deps.identity || !deps.settings.provisioner.identityGrants) return undefined;
  if (principal.type === 'role' && AWS_MANAGED_ROLE_PATHS.some((path) => principal.path.startsWith(path))) return undefined;
  return principal.accountId === deps.settings.identityAccountId ? deps.identity : undefined;
}

/** A step after IAM writes were sent (`sent`, as it stands when the step fails): its error carries them (noteWritesSent). */
async function after(sent: ReadonlyArray<Pick<PlannedCall, 'command'>>, step: () => Promise<unknown>): Promise<void> {
  try {
    await step();
  } catch (e) {
    noteWritesSent(e, sent.map((c) => c.command));
    throw e;
  }
}

export interface Release {
  /** The IAM writes sent, in order (a role left as it is may have had a lockdown's). */
  calls: ReadonlyArray<Pick<PlannedCall, 'command'>>;
  roleDeleted: boolean;
  /** The live requests still covered by the role. */
  remaining: string[];
  /** Set when the role could not be reached to delete (its account left the configuration): why, for the audit event. */
  owed?: string;
  /**
   * Set when the shared role was not rewritten for the requests that stay: why. `calls` then lists what a
   * refused rewrite had written first (a lockdown's detaches and lock), if anything.
   */
  notRewritten?: string;
}

/** What an ACCESS_REMOVED event records of a release: the role deleted or not, who it still covers, the IAM writes sent, why it was not rewritten. */
export function removalData(release: Release): Record<string, unknown> {
  return {
    roleDeleted: release.roleDeleted,
    stillCoveredBy: release.remaining,
    calls: release.calls.map((c) => c.command),
    ...(release.notRewritten !== undefined ? { roleNotRewritten: release.notRewritten } : {}),
  };
}

export interface ReleaseOptions {
  /**
   * The request's end has passed, so IAM's time conditions already refuse the
   * role: when the role cannot be reached, the request may still end, with
   * the cleanup recorded as owed. Without it (a revoke), that is refused.
   */
  endHasPassed?: boolean;
  /**
   * Requests leaving the grant in the same operation (a revoke and its
   * extensions). The role is narrowed to the links still there as each
   * leaves, where the configuration allows; where it does not (the profile
   * or the ExternalId's rule is gone), it is left as it is while only they
   * remain, and the last to leave removes it.
   */
  leavingWith?: ReadonlySet<string>;
  /**
   * The request leaves because its provisioning failed for good, and its
   * access would have ended here (it may never have been recorded as a
   * member). As for any request leaving: when the role, shared with live
   * requests that end no earlier, cannot be rewritten for them for a reason
   * that will not pass (IAM refuses for good: an SCP, the provisioner role's
   * permissions, the profile as configured now), the role is left as it is:
   * it gives the same principal the same profile's access on the same role
   * until an end the others' grant reaches anyway. Without this, the request
   * could not end (FAILED, or EXPIRED) until the others ended.
   */
  failedEndingBy?: string;
  /** The failed attempt being undone sent the role's CreateRole: IAM may not show the role yet, so its absence is read again. */
  justCreated?: boolean;
}

/**
 * Why a role a request leaves is left as it is, by the refusal that says so: a role whose grantee was
 * deleted admits nobody, and is never rewritten (the name may be someone else's now); a role that is gone,
 * or locked down (what was kept on it passed an IAM limit), admits nobody either.
 */
const ADMITS_NOBODY: ReadonlyMap<string | undefined, string> = new Map([
  ['PrincipalDeleted', 'as its grantee was deleted and it admits nobody'],
  ['RoleMissing', 'missing, as someone deleted it outside rolegate'],
  ['RoleLockedDown', 'locked down, admitting nobody, as what was kept on it passed an IAM limit'],
]);

/**
 * Takes one request out of a grant, under the grant's lease, and brings IAM
 * to what the other live requests need: with none left, the role (with its
 * policies), the identity-side policy and the grant item go; otherwise the
 * role's trust and the identity policy end at the remaining end, and the
 * grant is saved without the request. Whether or not the request was ever a
 * member (a crash can leave it in, or leave its role without it), nothing it
 * added outlives it. Every step converges on a re-run.
 *
 * Removal works from what was stored (the request's role, principal, and the
 * account settings recorded on the grant), so a request keeps its role, and
 * can be ended, after its profile or account leaves the configuration. Only
 * moving a shared role's end back needs the profile as configured; without
 * it the change is refused (ConflictError) with what to do.
 */
export async function releaseFromGrant(deps: ProvisioningDeps, lease: GrantLease, location: GrantLocation, requestId: string, now: string, options: ReleaseOptions = {}): Promise<Release> {
  if (lease.grant?.mode === 'aws' && deps.settings.provisioner.mode !== 'aws') {
    // A dry run would plan the removal, change nothing in IAM, and record the access as ended.
    throw new ProvisioningError(
      `Request ${requestId}'s role ${location.roleName} in account ${location.accountId} was written to AWS, but this deployment runs provisioner.mode ${deps.settings.provisioner.mode}, which changes nothing there: ` +
        `ending the access here would leave the role trusting its principal until its end. Deploy with provisioner.mode aws to end it.`,
      'DryRunCannotRemove',
      false,
    );
  }
  const another = grantOfAnother(lease.grant, location);
  if (another) {
    // Never this request's role: it holds nothing there, and the others' role is not its to rewrite or delete.
    deps.logger.warn('a request left a grant key whose grant is another\'s; the role is left as it is', { requestId, grantKey: location.grantKey, why: another });
    return { calls: [], roleDeleted: false, remaining: [] };
  }
  const target = withRecordedTerms(location, lease.grant);
  const others = { ...(lease.grant?.members ?? {}) };
  delete others[requestId];
  const remaining = liveMembers(others, now);
  const identity = identityGranterFor(deps, target.principal);
  const account = accountForGrant(deps.settings, target.accountId, lease.grant);
  if (Object.keys(remaining).length === 0) {
    if (!account) {
      // No grant item: nothing was recorded for this grant in that account (the request never got as far
      // as a role, or its grant is gone already), so nothing is owed there; the identity side is reachable.
      if (!lease.grant) return { calls: identity ? await identity.revoke(target.principal, target.grantKey) : [], roleDeleted: false, remaining: [] };
      return owe(deps, target, requestId, options);
    }
    // No grant item: rolegate recorded no role here, so a foreign role of that name (why provisioning
    // failed) holds nothing of this request's; one rolegate made before a crash is removed as usual.
    const calls = await deps.provisioner.remove(account, target.roleName, requestId, { ...(lease.grant ? {} : { unrecorded: true }), ...(options.justCreated ? { justCreated: true } : {}) });
    await after(calls, async () => {
      if (identity) calls.push(...(await identity.revoke(target.principal, target.grantKey)));
      if (lease.grant) await deps.grants.remove(lease);
    });
    return { calls, roleDeleted: true, remaining: [] };
  }
  /**
   * The request leaves the grant without the role being rewritten (why); the role and the identity policy stay
   * as they are, for the others. A rewrite refused on the way may have written first (a lockdown): those
   * writes are the release's.
   */
  const leaveRoleAsItIs = async (why: string, writes: readonly string[] = []): Promise<Release> => {
    const calls = writes.map((command) => ({ command }));
    await after(calls, () => deps.grants.save(lease, { ...lease.grant!, members: remaining, version: lease.grant!.version + 1, updatedAt: now }));
    return { calls, roleDeleted: false, remaining: Object.keys(remaining), notRewritten: why };
  };
  const leaving = options.failedEndingBy ?? lease.grant?.members[requestId];
  const profile = deps.settings.profiles.find((p) => p.name === target.profileName);
  if (account && profile && !target.externalIdUnknown) {
    // Rewritten even when the others leave next (a revoked chain): should the last one's removal
    // fail, the role must not keep an end that only a request already ended held.
    const full: GrantTarget = { ...target, account, profile };
    const spec = specFor(deps.settings, full, remaining);
    // Narrowing only: a role deleted outside rolegate (a responder, in an incident) stays deleted.
    let refused: { why: string; writes: string[] } | undefined;
    const outcome = await deps.provisioner.apply(spec, requestId, { existingOnly: true }).catch((e: unknown) => {
      const admitsNobody = e instanceof ProvisioningError ? ADMITS_NOBODY.get(e.awsCode) : undefined;
      // A rewrite IAM refuses for good need not hold the request up when it would not move the
      // role's end: the others end no earlier, so the role gives nothing they do not.
      if (admitsNobody === undefined && (leaving === undefined || !(e instanceof ProvisioningError) || e.retryable || leaving > spec.endsAt)) throw e;
      refused = { why: admitsNobody ?? 'as IAM refuses the rewrite for good, and they end no earlier than the request leaving', writes: writesSentBefore(e) };
      return undefined;
    });
    if (!outcome) {
      deps.logger.warn(`the shared role could not be rewritten for its other requests; it is left as it is, ${refused!.why}`, {
        requestId,
        grantKey: target.grantKey,
        remaining: Object.keys(remaining),
        ...(refused!.writes.length > 0 ? { writesBeforeRefusal: refused!.writes } : {}),
      });
      return leaveRoleAsItIs(refused!.why, refused!.writes);
    }
    const calls = [...outcome.calls];
    await after(calls, async () => {
      if (identity) calls.push(...(await identity.grant(target.principal, outcome.roleArn, spec.endsAt, target.grantKey)));
      await deps.grants.save(lease, nextGrant(full, lease.grant, remaining, outcome.roleArn, now, deps.settings.provisioner.mode));
    });
    return { calls, roleDeleted: false, remaining: Object.keys(remaining) };
  }
  // Without the configured profile (or account) the role cannot be rewritten. It need not be when the
  // request leaving ends no later than the others: the role and the identity policy already end at theirs;
  // nor when only requests leaving with it remain, where the last to leave deletes the role.
  const missing = !account ? `account ${target.accountId}` : !profile ? `profile "${target.profileName}"` : `the rule that set its ExternalId`;
  if (account && options.leavingWith && Object.keys(remaining).every((id) => options.leavingWith!.has(id))) {
    return leaveRoleAsItIs(`as ${missing} is no longer in the configuration, and only requests leaving with it remain (the last to leave deletes the role)`);
  }
  const end = grantEnd(remaining)!;
  if (leaving !== undefined && leaving > end) {
    throw new ConflictError(
      `Request ${requestId} shares role ${target.roleName} in account ${target.accountId} with live requests ${Object.keys(remaining).sort().join(', ')} and ends after them; ` +
        `moving the role's end back to theirs needs ${missing}, which is no longer in the configuration. ` +
        `Add it back and try again, or end those requests first (the last request to leave deletes the role).`,
      [{ field: !account ? 'accountId' : !profile ? 'profile' : 'ruleId', reason: 'is no longer in the configuration' }],
    );
  }
  return leaveRoleAsItIs(`as ${missing} is no longer in the configuration, and they end no earlier than the request leaving`);
}

/**
 * The last request leaves a grant whose account left the configuration
 * before the grant recorded its settings: its role cannot be reached. An
 * ended request still ends (IAM's time conditions refuse the role after its
 * end) and the cleanup is recorded as owed; a revoke, which would leave the
 * access usable until its end, is refused. The grant item stays, as the role
 * it describes does: a retry of this end (its commit failed) finds it and
 * owes the role again, where with no item it would read as a request that
 * never had one; and reconciliation, once the account is back, finds the
 * role through it, ended, and removes it (driftAction: repair).
 */
async function owe(deps: ProvisioningDeps, target: GrantLocation, requestId: string, options: ReleaseOptions): Promise<Release> {
  const where = `role ${target.roleName} in account ${target.accountId}`;
  if (!options.endHasPassed) {
    throw new ConflictError(
      `Request ${requestId}'s access is ${where}, which is no longer in the configuration, and its grant does not record how to reach it: rolegate cannot delete the role. ` +
        `Add the account back to the configuration (id, provisionerRoleArn, externalId) and revoke again; IAM's time condition ends the access at its end meanwhile.`,
      [{ field: 'accountId', reason: 'is no longer in the configuration' }],
    );
  }
  const identity = identityGranterFor(deps, target.principal);
  const calls = identity ? await identity.revoke(target.principal, target.grantKey) : [];
  const owed =
    `Account ${target.accountId} is no longer in the configuration, so ${where} could not be deleted (IAM's time conditions already refuse it). ` +
    `Delete the role by hand, or add the account back and let reconciliation remove it (driftAction: repair).`;
  deps.logger.error('access ended, but its role could not be deleted; an administrator owes the cleanup', { requestId, accountId: target.accountId, roleName: target.roleName });
  return { calls, roleDeleted: false, remaining: [], owed };
}
