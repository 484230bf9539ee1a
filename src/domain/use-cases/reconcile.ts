import { createHash } from 'node:crypto';
import { audit } from '../audit';
import { ConflictError, errorForLog } from '../errors';
import { grantTargetFor, liveMembers, specFor, withGrantLease, withRecordedTerms } from '../grants';
import type { AccessRequest, AuditEvent, Grant } from '../model';
import type { GrantLease, ManagedRoleState, Provisioner } from '../ports';
import { canonicalText, deletedPrincipalIn, desiredRole, isDenyOnlyManaged, isLockedDown, keepingDenies, LOCKED_DOWN_SID, MANAGED_TAG, onlyDenies, samePolicy, statementsIn, trustBeforeSourceIdentity, type DesiredRole } from '../provisioning/documents';
import { ACCESS_ENDS_SID } from '../provisioning/access-ends';
import type { AccountSettings } from '../settings';
import { announce, isoNow } from './context';
import { leaseOptions } from './grant-membership';
import type { ProvisioningDeps } from './provisionRequest';

export type DriftKind =
  | 'unknown-role'
  | 'missing-role'
  | 'unmanaged-role'
  | 'principal-deleted'
  | 'trust-changed'
  | 'boundary-changed'
  | 'permissions-changed'
  | 'session-duration-changed'
  | 'tags-added';

/**
 * How long after a grant's last end its role still counts as expected: the
 * sweeper (every minute) deletes it within this window, and reporting it
 * earlier raises a false alarm (or, in repair mode, deletes the role under
 * the sweeper, leaving the grant item and the identity policy behind).
 */
export const EXPIRY_GRACE_MINUTES = 5;

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
 * that differs from the desired state, is drift once confirmed against both
 * as they are now: audited, logged, notified, and repaired when the
 * configuration says `driftAction: repair`.
 */
export interface ReconcileOptions {
  /**
   * False once the run must start no more work: the invocation's time is
   * running out, and one cut off mid-repair would leave a lease held.
   */
  inTime?: () => boolean;
}

/** How often the reconciler runs (serverless.yml); successive runs start at accounts spread evenly (runStart). */
export const RECONCILE_EVERY_MINUTES = 15;

export async function reconcile(deps: ProvisioningDeps, options: ReconcileOptions = {}): Promise<Drift[]> {
  const { listManagedRoleNames, describeManagedRole } = deps.provisioner;
  // A dry run reads no account and has neither; one without the other is a wiring mistake, never "no drift".
  if (!listManagedRoleNames && !describeManagedRole) return [];
  if (!listManagedRoleNames || !describeManagedRole) throw new Error('reconcile: the provisioner must both list and describe managed roles');
  const inTime = options.inTime ?? (() => true);
  // A run cut short for time must not always starve the same accounts (and grants): each run starts elsewhere.
  const run = Math.floor(deps.clock.now().getTime() / (RECONCILE_EVERY_MINUTES * 60_000));
  const found: Drift[] = [];
  for (const account of rotated(deps.settings.accounts, run)) {
    let cutShort = !inTime();
    if (!cutShort) {
      try {
        const checked = await reconcileAccount(deps, account, inTime, run);
        found.push(...checked.drifts);
        cutShort = checked.cutShort;
      } catch (e) {
        deps.logger.error('reconciliation of an account failed; the others continue', { accountId: account.id, error: errorForLog(e) });
        // Counted (alarmed), not only logged: an account the reconciler cannot assume into or list is otherwise never checked, silently.
        deps.metrics?.count('ReconcileFailed');
      }
    }
    if (cutShort) {
      deps.logger.warn('reconciliation stopped to keep within its time; the next runs start elsewhere', { accountId: account.id });
      deps.metrics?.count('ReconcileCutShort');
      break;
    }
  }
  return found;
}

/**
 * Whether a grant whose members have all ended is still the sweeper's to
 * remove, not drift: a member ended within the grace window, or a member is
 * still live in the database (the sweeper has yet to, or failed to, end it;
 * ExpiryFailed reports that).
 */
async function awaitingSweeper(deps: ProvisioningDeps, members: Record<string, string>, now: string): Promise<boolean> {
  const graceStart = new Date(Date.parse(now) - EXPIRY_GRACE_MINUTES * 60_000).toISOString();
  if (Object.keys(liveMembers(members, graceStart)).length > 0) return true;
  for (const id of Object.keys(members)) {
    const request = await deps.requests.get(id);
    if (request?.status === 'ACTIVE' || request?.status === 'APPROVED') return true;
  }
  return false;
}

/** `items` from the run's start on (runStart), then the rest. */
function rotated<T>(items: readonly T[], run: number): T[] {
  const first = runStart(run, items.length);
  return [...items.slice(first), ...items.slice(0, first)];
}

const GOLDEN = (Math.sqrt(5) - 1) / 2;

/**
 * Where run `run` starts among `n` items. A run that runs out of time checks
 * the items from its start on, and stepping the start by one each run would
 * leave the last of them unchecked for n - k runs on end (k the items one run
 * gets through: 300 runs, three days, for 600 accounts and half of them per
 * run). Steps of the golden ratio spread successive starts evenly instead,
 * so every item is checked within about 1.6 × n / k runs (a test holds it
 * within 2 ×), statelessly.
 */
export function runStart(run: number, n: number): number {
  return n > 0 ? Math.floor(((run * GOLDEN) % 1) * n) : 0;
}

/**
 * One account: first the roles no grant names at all (a role someone made
 * under rolegate's path is the drift that matters most, so no time runs out
 * before it), then each grant against its role, then the roles of grants
 * whose members have all ended. `cutShort` when it stopped for time.
 */
async function reconcileAccount(deps: ProvisioningDeps, account: AccountSettings, inTime: () => boolean, run: number): Promise<{ drifts: Drift[]; cutShort: boolean }> {
  const provisioner = deps.provisioner as Required<Pick<Provisioner, 'listManagedRoleNames' | 'describeManagedRole'>>;
  const repair = deps.settings.provisioner.driftAction === 'repair';
  const now = isoNow(deps.clock);
  // Names only: each role is read when its turn comes, after a look at the time.
  const listed = new Set(await provisioner.listManagedRoleNames(account));
  const grants = await deps.grants.listByAccount(account.id);
  const named = new Set(grants.map((g) => g.roleName));
  const drifts: Drift[] = [];
  const orphanCandidates: string[] = [];

  for (const roleName of [...listed].filter((name) => !named.has(name))) {
    if (!inTime()) return { drifts, cutShort: true };
    await checkUnknownRole(roleName);
  }

  for (const grant of rotated(grants, run)) {
    if (!inTime()) return { drifts, cutShort: true };
    // One grant that cannot be compared (its profile left the configuration, a failed read) must not hide the others.
    try {
      const drift = await reconcileGrant(deps, account, grant, listed.has(grant.roleName), now);
      if (drift === 'orphan-candidate') {
        if (listed.has(grant.roleName)) orphanCandidates.push(grant.roleName);
      } else if (drift) {
        drifts.push(drift);
      }
    } catch (e) {
      deps.logger.error('reconciliation of a grant failed; the others continue', { accountId: account.id, grantKey: grant.grantKey, error: errorForLog(e) });
      deps.metrics?.count('ReconcileFailed');
    }
  }

  for (const roleName of orphanCandidates) {
    if (!inTime()) return { drifts, cutShort: true };
    await checkUnknownRole(roleName);
  }
  return { drifts, cutShort: false };

  async function checkUnknownRole(roleName: string): Promise<void> {
    try {
      // Under the role's grant lease: a provisioning in flight creates the role before it saves
      // the grant, both under this lease, and a role removed since the listing is no drift.
      const confirmed = await withGrantLease(leaseOptions(deps), `${account.id}#${roleName}`, async (lease) => {
        const t = isoNow(deps.clock);
        if (Object.keys(liveMembers(lease.grant?.members ?? {}, t)).length > 0) return undefined;
        // Ended since the grant listing: the sweeper's to remove, as above.
        if (lease.grant && (await awaitingSweeper(deps, lease.grant.members, t))) return undefined;
        const role = await provisioner.describeManagedRole(account, roleName);
        if (!role) return undefined;
        // Under our path but never rolegate's (no managed-by tag): report, never touch. Nor one none of this table's
        // requests made: another rolegate deployment's in the same account, or older than a restored table.
        const ours = role.managedByRolegate && (await madeHere(deps, role));
        const removed = ours && repair && leaseHoldsForRepair(deps, lease, roleName);
        if (removed) await deps.provisioner.remove(account, role.roleName, 'reconcile');
        return { role, ours, removed };
      });
      if (!confirmed) return;
      const drift: Drift = {
        accountId: account.id,
        roleName,
        kind: 'unknown-role',
        detail: !confirmed.role.managedByRolegate
          ? 'a role under /rolegate/ that rolegate did not create'
          : confirmed.ours
            ? 'a rolegate role that no live grant accounts for'
            : "a rolegate role that none of this deployment's requests made (another rolegate deployment's, or older than this table): left as it is",
        repaired: confirmed.removed,
      };
      drifts.push(drift);
      await record(deps, drift, confirmed.role);
    } catch (e) {
      deps.logger.error('reconciliation of a role failed; the others continue', { accountId: account.id, roleName: roleName, error: errorForLog(e) });
      deps.metrics?.count('ReconcileFailed');
    }
  }
}

/** Whether a request its tag names is in this table: the role was made by this deployment (a request is never deleted). */
async function madeHere(deps: ProvisioningDeps, role: ManagedRoleState): Promise<boolean> {
  for (const id of role.requestIds ?? []) if (await deps.requests.get(id)) return true;
  return false;
}

/** A repair needs this much of the grant's lease left: its IAM calls must end before another change may take the lease. */
export const REPAIR_NEEDS_MS = 60_000;

/**
 * Whether the lease still has time for a repair. The reads under it (several
 * IAM calls, each retried) may have used it up: a repair sent after it
 * lapsed could rewrite a role that a revoke has since taken over and deleted.
 * Without the time, the drift is reported unrepaired; the next run repairs it.
 */
function leaseHoldsForRepair(deps: ProvisioningDeps, lease: GrantLease, roleName: string): boolean {
  const left = Date.parse(lease.until) - deps.clock.now().getTime();
  if (left >= REPAIR_NEEDS_MS) return true;
  deps.logger.warn('reconciliation left a drift unrepaired: too little of the grant lease is left; the next run repairs it', { roleName, leaseLeftMs: left });
  return false;
}

/**
 * One grant against its role: the confirmed drift, nothing, or, when every
 * member ended longer ago than the sweeper needs, the role as a candidate
 * for an orphan.
 */
async function reconcileGrant(deps: ProvisioningDeps, account: AccountSettings, grant: Grant, listed: boolean, now: string): Promise<Drift | 'orphan-candidate' | undefined> {
  const provisioner = deps.provisioner as Required<Pick<Provisioner, 'listManagedRoleNames' | 'describeManagedRole'>>;
  const repair = deps.settings.provisioner.driftAction === 'repair';
  const members = liveMembers(grant.members, now);
  const anyMember = Object.keys(members)[0];
  if (!anyMember) return (await awaitingSweeper(deps, grant.members, now)) ? undefined : 'orphan-candidate';
  const request = await deps.requests.get(anyMember);
  // Requests are never deleted (no function may): a grant naming one that is not there cannot be compared, and says so.
  if (!request) throw new ConflictError(`Grant ${grant.grantKey} is not compared: its member request ${anyMember} is not in the table.`);
  // A workload's rule gone from the configuration: the ExternalId its grant recorded.
  const target = withRecordedTerms(grantTargetFor(deps.settings, request), grant);
  // None recorded (an older grant): the trust would read as drift, and a repair would take the
  // condition off live access. Logged, like a grant whose profile left the configuration.
  if (target.externalIdUnknown) {
    throw new ConflictError(`Grant ${grant.grantKey} is not compared: the rule that set its workload's ExternalId (${request.ruleId}) is no longer in the configuration, and the grant, written before grants recorded it, does not say what it was.`);
  }
  // Not listed: missing (confirmed below). Listed: read now (undefined if deleted since the listing).
  const role = listed ? await provisioner.describeManagedRole(account, grant.roleName) : undefined;
  if (!compare(role, desiredRole(specFor(deps.settings, target, members)))) return undefined;
  // The role listing and the grant listing are read apart and may be minutes old: a grant
  // provisioned, widened or ended in between looks like drift. Under the grant's lease, compare
  // the grant and the role as they are now; only a difference that holds is reported (and
  // repaired), and a role whose requests ended meanwhile is never brought back.
  const confirmed = await withGrantLease(leaseOptions(deps), target.grantKey, async (lease) => {
    const current = liveMembers(lease.grant?.members ?? {}, isoNow(deps.clock));
    if (Object.keys(current).length === 0) return undefined;
    const spec = specFor(deps.settings, target, current);
    const described = await provisioner.describeManagedRole(account, grant.roleName);
    const problem = compare(described, desiredRole(spec));
    if (!problem) return undefined;
    const repaired = repair && problem.repairable && leaseHoldsForRepair(deps, lease, grant.roleName);
    // Deleted since it was read: a repair never brings a role back (RoleMissing; the next run reports missing-role).
    if (repaired) await deps.provisioner.apply(spec, request.id, { existingOnly: true });
    return { ...problem, repaired, described };
  });
  if (!confirmed) return undefined;
  const drift: Drift = { accountId: account.id, roleName: grant.roleName, kind: confirmed.kind, detail: confirmed.detail, repaired: confirmed.repaired };
  await record(deps, drift, confirmed.described, request);
  return drift;
}

/**
 * The first way a live grant's role differs from its desired state, or
 * undefined. The desired state is what a write of the grant leaves
 * (IamProvisioner.converge): rolegate's documents with every Deny someone
 * else put on the role kept (a responder's containment: in its trust or its
 * profile policy, AWSDenyAll attached), so those are no drift, and a repair
 * takes away what was added around them and never them. Every difference
 * that widens or lengthens access counts: a trust, a boundary removed or
 * swapped, a policy attached, added or edited in place, a longer maximum
 * session. Repairable only when something widens: when every difference
 * only narrows access, writing the desired state back would widen it.
 */
export function compare(role: ManagedRoleState | undefined, d: DesiredRole): { kind: DriftKind; detail: string; repairable: boolean } | undefined {
  const found = differenceOf(role, d);
  if (!found?.repairable || !role) return found;
  if (!widens(role, d)) {
    return { ...found, detail: `${found.detail}; left as it is, since it only narrows access (as a responder might): a repair would widen it`, repairable: false };
  }
  return found;
}

/** The desired role as a write of the grant leaves it on this live role: with the Denies others put there kept. */
function withContainment(role: ManagedRoleState, d: DesiredRole): DesiredRole {
  return {
    ...d,
    trustPolicy: keepingDenies(d.trustPolicy, role.trustPolicy),
    inlinePolicy: keepingDenies(d.inlinePolicy, role.inlinePolicies[d.inlinePolicyName]),
    managedPolicyArns: [...new Set([...d.managedPolicyArns, ...role.attachedPolicyArns.filter(isDenyOnlyManaged)])].sort(),
  };
}

const statementsOf = (doc: unknown) => statementsIn(doc).filter((st): st is Record<string, unknown> => !!st && typeof st === 'object');
/** A document's Allow statements, as comparable text. */
const allowTexts = (doc: unknown) => statementsOf(doc).filter((st) => st.Effect === 'Allow').map((st) => canonicalText(st));
/** A document's Deny statements but rolegate's end of access (its time is endsLater's), as comparable text. */
const denyTexts = (doc: unknown) => statementsOf(doc).filter((st) => st.Effect === 'Deny' && st.Sid !== ACCESS_ENDS_SID).map((st) => canonicalText(st));

/**
 * Whether the role holds anything its desired state does not: an Allow in
 * its trust or profile policy, a Deny of its profile's taken out or edited,
 * an edited end of access, a boundary removed
 * or swapped (which of two bounds more is not told without reading both; a
 * wider one is what stolen credentials would put there), a policy attached
 * or an inline policy added that allows, a longer maximum session. A role
 * only narrower (a policy detached, a boundary added, a shorter session) is
 * not repaired: that is what a responder does, and a repair would undo it.
 */
export function widens(role: ManagedRoleState, d: DesiredRole): boolean {
  const wantedTrust = new Set([...allowTexts(d.trustPolicy), ...allowTexts(trustBeforeSourceIdentity(d.trustPolicy))]);
  if (allowTexts(role.trustPolicy).some((st) => !wantedTrust.has(st))) return true;
  const wanted = new Set(allowTexts(d.inlinePolicy));
  const live = role.inlinePolicies[d.inlinePolicyName];
  if (allowTexts(live).some((st) => !wanted.has(st))) return true;
  // A Deny of the profile's taken out or edited (its end of access aside: endsLater) denies less than it did, where it
  // has something to fence: a policy attached, or an Allow of the profile's. The profile policy taken off whole, with
  // nothing attached, only narrows (a responder's doing).
  const fenced = role.attachedPolicyArns.some((arn) => !isDenyOnlyManaged(arn)) || allowTexts(live).length > 0;
  const liveDenies = new Set(denyTexts(live));
  if (fenced && denyTexts(d.inlinePolicy).some((st) => !liveDenies.has(st))) return true;
  if (live !== undefined && endsLater(live, d.inlinePolicy)) return true;
  if (d.permissionsBoundaryArn !== undefined && role.permissionsBoundaryArn !== d.permissionsBoundaryArn) return true;
  if (role.attachedPolicyArns.some((arn) => !d.managedPolicyArns.includes(arn) && !isDenyOnlyManaged(arn))) return true;
  if (Object.entries(role.inlinePolicies).some(([name, doc]) => name !== d.inlinePolicyName && !onlyDenies(doc))) return true;
  return role.maxSessionDuration > d.maxSessionDuration;
}

/**
 * Whether a live profile policy's end of access (rolegate's own Deny) lets
 * access run past the desired one: ends later, or says something else. One
 * that ends earlier only narrows.
 */
function endsLater(live: unknown, desired: unknown): boolean {
  const endOf = (doc: unknown) => statementsOf(doc).find((st) => st.Sid === ACCESS_ENDS_SID);
  const timeOf = (st: Record<string, unknown> | undefined) => (st?.Condition as { DateGreaterThan?: Record<string, unknown> } | undefined)?.DateGreaterThan?.['aws:CurrentTime'];
  const [was, wanted] = [endOf(live), endOf(desired)];
  const [wasAt, wantedAt] = [timeOf(was), timeOf(wanted)];
  const withoutTime = (st: Record<string, unknown> | undefined) => canonicalText({ ...st, Condition: { ...(st?.Condition as object), DateGreaterThan: null } });
  if (typeof wasAt !== 'string' || typeof wantedAt !== 'string' || withoutTime(was) !== withoutTime(wanted)) return canonicalText(was ?? null) !== canonicalText(wanted ?? null);
  return !(Date.parse(wasAt) <= Date.parse(wantedAt));
}

function differenceOf(role: ManagedRoleState | undefined, desired: DesiredRole): { kind: DriftKind; detail: string; repairable: boolean } | undefined {
  if (!role) {
    // Never re-created by repair: someone may have deleted it to contain an incident. A request approved
    // for the grant from now on writes it afresh; revoke the grant's requests to end them.
    return { kind: 'missing-role', detail: 'the role of a live grant is missing; rolegate does not re-create it (it may have been deleted on purpose): revoke its requests, or a new approved request writes it again', repairable: false };
  }
  if (role.outsidePath !== undefined) {
    return { kind: 'unmanaged-role', detail: `a role of this name exists at path ${role.outsidePath}, outside /rolegate/; it is not rolegate's: delete or rename it`, repairable: false };
  }
  if (!role.managedByRolegate) {
    // apply() refuses roles without the tag, so this is reported, never repaired.
    return { kind: 'unmanaged-role', detail: `the role lost its ${MANAGED_TAG.Key}=${MANAGED_TAG.Value} tag; rolegate will not change it until the tag is restored`, repairable: false };
  }
  const deleted = deletedPrincipalIn(role.trustPolicy);
  if (deleted) {
    // Never repaired: the ARN written back would trust whoever holds the name now.
    return {
      kind: 'principal-deleted',
      detail: `the trust names ${deleted}, IAM's id for a grantee that was deleted, so nobody can assume the role; rolegate does not write the grantee's ARN back (a principal made since under that name is someone else): revoke the request`,
      repairable: false,
    };
  }
  if (isLockedDown(role.trustPolicy)) {
    // Locked because what it had to keep passed an IAM limit (IamProvisioner): left to a person, as every write leaves it.
    // An Allow someone put in the trust since is named, for the person to take out.
    const added = allowTexts(role.trustPolicy).length > 0 ? ', though someone has since added an Allow to its trust' : '';
    return {
      kind: 'trust-changed',
      detail: `the role is locked down (statement ${LOCKED_DOWN_SID} in its trust: it admits nobody${added}); rolegate changes nothing on it until a person takes that statement out`,
      repairable: false,
    };
  }
  // Compared with what a write of the grant would leave: the Denies others put on the role kept.
  const d = withContainment(role, desired);
  // A trust written before source identities were allowed admits fewer sessions, never more: no drift.
  if (!samePolicy(role.trustPolicy, d.trustPolicy) && !samePolicy(role.trustPolicy, trustBeforeSourceIdentity(d.trustPolicy))) {
    return { kind: 'trust-changed', detail: 'the trust policy differs from the desired one', repairable: true };
  }
  if ((role.permissionsBoundaryArn ?? '') !== (d.permissionsBoundaryArn ?? '')) {
    return { kind: 'boundary-changed', detail: `permissions boundary ${role.permissionsBoundaryArn ?? 'none'}; expected ${d.permissionsBoundaryArn ?? 'none'}`, repairable: true };
  }
  const attached = [...role.attachedPolicyArns].sort();
  // Another's Deny-only policy (a responder's "Revoke active sessions") only narrows: no drift.
  const inline = Object.keys(role.inlinePolicies)
    .filter((name) => name === d.inlinePolicyName || !onlyDenies(role.inlinePolicies[name]))
    .sort();
  const wantedInline = [d.inlinePolicyName];
  if (JSON.stringify(attached) !== JSON.stringify(d.managedPolicyArns) || JSON.stringify(inline) !== JSON.stringify(wantedInline)) {
    return { kind: 'permissions-changed', detail: `attached ${attached.join(', ') || 'nothing'}; inline ${inline.join(', ') || 'nothing'}`, repairable: true };
  }
  if (!samePolicy(role.inlinePolicies[d.inlinePolicyName], d.inlinePolicy)) {
    return { kind: 'permissions-changed', detail: `inline policy ${d.inlinePolicyName} was edited`, repairable: true };
  }
  if (role.maxSessionDuration !== d.maxSessionDuration) {
    return { kind: 'session-duration-changed', detail: `maximum session ${role.maxSessionDuration} s; expected ${d.maxSessionDuration} s`, repairable: true };
  }
  // A tag another policy keys on (aws:PrincipalTag in a resource or session policy) may widen what the role
  // reaches; one a responder added may be what contains it (an SCP denying on it). Reported, never removed.
  if (role.otherTagKeys !== undefined && role.otherTagKeys.length > 0) {
    return { kind: 'tags-added', detail: `tags rolegate did not write: ${role.otherTagKeys.join(', ')} (a policy keyed on them may widen the role's access); rolegate leaves them: remove them if nobody meant them`, repairable: false };
  }
  return undefined;
}

/**
 * How often a drift that stays is audited and announced again. The reconciler
 * finds it at every run (every 15 minutes); its log line and DriftFound (the
 * alarm) say so each time, while the audit trail and the webhooks hear of it
 * when it is new (or back after it went away), when it changes, and then
 * once a day.
 */
export const DRIFT_REMINDER_HOURS = 24;
/** A drift not seen for two runs and more went away (repaired by hand, say): seen again, it is new. */
export const DRIFT_LAPSE_MINUTES = 2 * RECONCILE_EVERY_MINUTES + 5;

/**
 * What a drift is, as the audit trail tells one from another: its kind and
 * the role as IAM showed it (its trust, boundary, policies and session
 * length, whatever the order of their keys). The detail shown to people says
 * less ("the trust policy differs"), so a role tampered with again, in
 * another way, is a new drift though it reads the same.
 */
export function driftFingerprint(kind: DriftKind, role: ManagedRoleState | undefined): string {
  // Tags added: the tags alone. The trust and the inline policy carry the grant's end, which every extension
  // moves: the same tags would read as a new drift at each change to the grant.
  const of = (seen: unknown) => `${kind}:${createHash('sha256').update(canonicalText(seen)).digest('hex')}`;
  if (kind === 'tags-added') return of(role?.otherTagKeys ?? []);
  const seen = role && {
    managedByRolegate: role.managedByRolegate,
    outsidePath: role.outsidePath ?? null,
    trustPolicy: role.trustPolicy,
    permissionsBoundaryArn: role.permissionsBoundaryArn ?? null,
    attachedPolicyArns: [...role.attachedPolicyArns].sort(),
    inlinePolicies: role.inlinePolicies,
    maxSessionDuration: role.maxSessionDuration,
  };
  return of(seen ?? null);
}

/** Drift on a grant is audited on one of its requests; a role with no request is audited under `account:<id>`. */
async function record(deps: ProvisioningDeps, drift: Drift, role: ManagedRoleState | undefined, request?: AccessRequest): Promise<void> {
  deps.metrics?.count('DriftFound');
  const at = isoNow(deps.clock);
  const subject = request ?? ({ id: `account:${drift.accountId}` } as AccessRequest);
  // Drift on a grant is announced to the people of its request; on an account, the log and the DriftFound metric carry it.
  const detected = audit.driftDetected(subject, {
    id: deps.ids.next(),
    at,
    actor: 'rolegate',
    comment: `${drift.kind}: ${drift.detail}${drift.repaired ? ' (repaired)' : ''}`,
    data: { ...drift },
    ...(request ? { notify: 'drift.detected' as const } : {}),
  });
  const events: AuditEvent[] = [detected];
  // A repair is an act of rolegate's, always audited; a drift left as it is, when new or changed, then daily.
  let audited = false;
  try {
    if (drift.repaired) {
      events.push(audit.driftRepaired(subject, { id: deps.ids.next(), at, actor: 'rolegate', data: { roleName: drift.roleName, kind: drift.kind } }));
      await deps.requests.appendEvents(events);
      audited = true;
    } else {
      const report = { subject: `${drift.accountId}#${drift.roleName}`, fingerprint: driftFingerprint(drift.kind, role), at, quietHours: DRIFT_REMINDER_HOURS, lapseMinutes: DRIFT_LAPSE_MINUTES };
      audited = await deps.requests.appendReport(events, report);
    }
  } finally {
    // Every run, audited or not (a failed write is logged by the caller as well).
    deps.logger.warn('drift found', { ...drift, audited });
  }
  if (request && audited) await announce(deps, request, detected);
}
