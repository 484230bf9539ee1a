import { audit } from '../audit';
import { grantTargetFor, liveMembers, specFor, withGrantLease } from '../grants';
import type { AccessRequest, AuditEvent } from '../model';
import type { ManagedRoleState } from '../ports';
import { desiredRole, MANAGED_TAG, samePolicy, type DesiredRole } from '../provisioning/documents';
import type { AccountSettings } from '../settings';
import { isoNow, notifySafely } from './context';
import { leaseOptions } from './grant-membership';
import type { ProvisioningDeps } from './provisionRequest';

export type DriftKind =
  | 'unknown-role'
  | 'missing-role'
  | 'unmanaged-role'
  | 'trust-changed'
  | 'boundary-changed'
  | 'permissions-changed'
  | 'session-duration-changed';

export interface Drift {
  accountId: string;
  roleName: string;
  kind: DriftKind;
  detail: string;
  repaired: boolean;
}

/**
 * Compares every role under rolegate's path in each target account with the
 * live grants. A role no live grant accounts for, or a trust or permission
 * that differs from the desired state, is drift: audited, logged, notified,
 * and repaired when the configuration says `driftAction: repair`.
 */
export async function reconcile(deps: ProvisioningDeps): Promise<Drift[]> {
  if (!deps.provisioner.listManagedRoles) return [];
  const found: Drift[] = [];
  for (const account of deps.settings.accounts) {
    try {
      found.push(...(await reconcileAccount(deps, account)));
    } catch (e) {
      deps.logger.error('reconciliation of an account failed; the others continue', { accountId: account.id, error: e instanceof Error ? e.message : String(e) });
    }
  }
  return found;
}

async function reconcileAccount(deps: ProvisioningDeps, account: AccountSettings): Promise<Drift[]> {
  const repair = deps.settings.provisioner.driftAction === 'repair';
  const now = isoNow(deps.clock);
  const roles = new Map((await deps.provisioner.listManagedRoles!(account)).map((r) => [r.roleName, r]));
  const drifts: Drift[] = [];

  for (const grant of await deps.grants.listByAccount(account.id)) {
    const members = liveMembers(grant.members, now);
    const anyMember = Object.keys(members)[0];
    const role = roles.get(grant.roleName);
    roles.delete(grant.roleName);
    if (!anyMember) {
      // Every member has ended: the sweeper removes it; if the role lingers, it is orphaned.
      if (role) roles.set(grant.roleName, role);
      continue;
    }
    const request = await deps.requests.get(anyMember);
    if (!request) continue;
    const target = grantTargetFor(deps.settings, request);
    const problem = compare(role, desiredRole(specFor(deps.settings, target, members)));
    if (!problem) continue;
    let repaired = false;
    if (repair && problem.repairable) {
      // The listing may be minutes old: under the lease, repair to the grant as it is now, and
      // never bring back a role whose requests ended meanwhile (ending it removed the role).
      repaired = await withGrantLease(leaseOptions(deps), target.grantKey, async (lease) => {
        const current = liveMembers(lease.grant?.members ?? {}, isoNow(deps.clock));
        if (Object.keys(current).length === 0) return false;
        await deps.provisioner.apply(specFor(deps.settings, target, current), request.id);
        return true;
      });
    }
    const drift: Drift = { accountId: account.id, roleName: grant.roleName, kind: problem.kind, detail: problem.detail, repaired };
    drifts.push(drift);
    await record(deps, drift, request);
  }

  for (const role of roles.values()) {
    // Under our path but never rolegate's (no managed-by tag): report, never touch.
    let removed = false;
    if (role.managedByRolegate && repair) {
      // Under the grant's lease, and only if no live request holds it now: a provisioning in
      // flight creates the role before it saves the grant, both under this lease.
      removed = await withGrantLease(leaseOptions(deps), `${account.id}#${role.roleName}`, async (lease) => {
        if (Object.keys(liveMembers(lease.grant?.members ?? {}, isoNow(deps.clock))).length > 0) return false;
        await deps.provisioner.remove(account, role.roleName, 'reconcile');
        return true;
      });
    }
    const drift: Drift = {
      accountId: account.id,
      roleName: role.roleName,
      kind: 'unknown-role',
      detail: role.managedByRolegate ? 'a rolegate role that no live grant accounts for' : 'a role under /rolegate/ that rolegate did not create',
      repaired: removed,
    };
    drifts.push(drift);
    await record(deps, drift);
  }
  return drifts;
}

/**
 * The first way a live grant's role differs from its desired state, or
 * undefined. Every difference that widens or lengthens access counts: a
 * trust, a boundary removed or swapped, a policy attached, added or edited
 * in place, a longer maximum session.
 */
export function compare(role: ManagedRoleState | undefined, d: DesiredRole): { kind: DriftKind; detail: string; repairable: boolean } | undefined {
  if (!role) return { kind: 'missing-role', detail: 'the role of a live grant is missing', repairable: true };
  if (!role.managedByRolegate) {
    // apply() refuses roles without the tag, so this is reported, never repaired.
    return { kind: 'unmanaged-role', detail: `the role lost its ${MANAGED_TAG.Key}=${MANAGED_TAG.Value} tag; rolegate will not change it until the tag is restored`, repairable: false };
  }
  if (!samePolicy(role.trustPolicy, d.trustPolicy)) return { kind: 'trust-changed', detail: 'the trust policy differs from the desired one', repairable: true };
  if ((role.permissionsBoundaryArn ?? '') !== (d.permissionsBoundaryArn ?? '')) {
    return { kind: 'boundary-changed', detail: `permissions boundary ${role.permissionsBoundaryArn ?? 'none'}; expected ${d.permissionsBoundaryArn ?? 'none'}`, repairable: true };
  }
  const attached = [...role.attachedPolicyArns].sort();
  const inline = Object.keys(role.inlinePolicies).sort();
  const wantedInline = d.inlinePolicy ? [d.inlinePolicyName] : [];
  if (JSON.stringify(attached) !== JSON.stringify(d.managedPolicyArns) || JSON.stringify(inline) !== JSON.stringify(wantedInline)) {
    return { kind: 'permissions-changed', detail: `attached ${attached.join(', ') || 'nothing'}; inline ${inline.join(', ') || 'nothing'}`, repairable: true };
  }
  if (d.inlinePolicy && !samePolicy(role.inlinePolicies[d.inlinePolicyName], d.inlinePolicy)) {
    return { kind: 'permissions-changed', detail: `inline policy ${d.inlinePolicyName} was edited`, repairable: true };
  }
  if (role.maxSessionDuration !== d.maxSessionDuration) {
    return { kind: 'session-duration-changed', detail: `maximum session ${role.maxSessionDuration} s; expected ${d.maxSessionDuration} s`, repairable: true };
  }
  return undefined;
}

/** Drift on a grant is audited on one of its requests; a role with no request is audited under `account:<id>`. */
async function record(deps: ProvisioningDeps, drift: Drift, request?: AccessRequest): Promise<void> {
  deps.logger.warn('drift found', { ...drift });
  deps.metrics?.count('DriftFound');
  const at = isoNow(deps.clock);
  const subject = request ?? ({ id: `account:${drift.accountId}` } as AccessRequest);
  const events: AuditEvent[] = [audit.driftDetected(subject, { id: deps.ids.next(), at, actor: 'rolegate', comment: drift.detail, data: { ...drift } })];
  if (drift.repaired) events.push(audit.driftRepaired(subject, { id: deps.ids.next(), at, actor: 'rolegate', data: { roleName: drift.roleName, kind: drift.kind } }));
  await deps.requests.appendEvents(events);
  if (request) await notifySafely(deps, 'drift.detected', request, 'rolegate', `${drift.kind}: ${drift.detail}${drift.repaired ? ' (repaired)' : ''}`);
}
