import { audit } from '../audit';
import { errorForLog, ForbiddenError, GrantBusyError, IN_THE_SWEEPERS_LOG, messageForUsers, noteWritesSent, ProvisioningError, StaleWriteError, writesSentBefore } from '../errors';
import { grantLocationFor, grantOfAnother, grantTargetFor, liveMembers, nextGrant, specFor, withGrantLease, type GrantLocation, type GrantTarget, type LeaseOptions } from '../grants';
import type { AccessRequest, AuditEvent, FailureInfo, PlannedCall } from '../model';
import type { GrantLease, GrantStore, IdentityGranter, ProvisionOutcome, Provisioner, RequestWrite } from '../ports';
import { accessDetails } from '../provisioning/access-details';
import { assertRuleStillCovers, frozenApproval } from '../rules';
import { announce, isoNow, withOptimisticRetry, type CoreDeps } from './context';
import { identityGranterFor, leaseOptions, releaseFromGrant, removalData, type Release } from './grant-membership';

export interface ProvisioningDeps extends CoreDeps {
  grants: GrantStore;
  provisioner: Provisioner;
  /** Present when the configuration asks for identity-account grants. */
  identity?: IdentityGranter;
  lease?: Partial<Pick<LeaseOptions, 'leaseSeconds' | 'attempts' | 'sleep' | 'keepWaiting'>>;
  /** Transient failures tolerated before the request is marked FAILED (retryable). */
  maxProvisioningAttempts?: number;
}

export type ProvisionResult = {
  outcome: 'active' | 'failed' | 'expired' | 'revoked' | 'skipped' | 'retry-later';
  request?: AccessRequest;
  /** The audit event of the change made, with the notification it calls for. */
  event?: AuditEvent;
  /** retry-later because the grant was busy: why (an OutOfTimeError when the run stopped waiting to keep its time). */
  busy?: GrantBusyError;
};

/**
 * Makes an APPROVED request's access real: under the grant's lease, adds the
 * request to the grant (the later end wins), brings the role to the desired
 * state, grants the identity side, then marks the request ACTIVE. Safe to run
 * again at any point: every step converges. A request ends FAILED only under
 * the grant's lease, after what IAM holds for it was undone, so no run can
 * give it access between the undo and the FAILED commit.
 */
export async function provisionRequest(deps: ProvisioningDeps, requestId: string, known?: AccessRequest): Promise<ProvisionResult> {
  const first = known ?? (await deps.requests.get(requestId));
  // Anything but APPROVED was handled already (a duplicate stream record, a sweep racing the worker).
  if (!first || first.status !== 'APPROVED' || !first.endsAt) return { outcome: 'skipped', ...(first ? { request: first } : {}) };
  const now = isoNow(deps.clock);
  if (first.endsAt <= now) {
    try {
      return await endBeforeProvisioning(deps, first);
    } catch (e) {
      // As below: a busy grant (or a run out of time waiting for it) leaves the request APPROVED for the sweeper.
      if (!(e instanceof GrantBusyError)) throw e;
      deps.logger.warn('another change to the grant is in progress; ending will be retried', { requestId, awsCode: e.awsCode });
      return { outcome: 'retry-later', busy: e };
    }
  }

  // Approved under the configuration of that moment: one deployed since that no longer covers the
  // request (its rule gone, its requester, account, profile or grantee out of it) grants nothing.
  // A workload's trust also needs its rule's ExternalId, which a removed rule takes with it.
  const changed = configurationChange(deps.settings, first);
  if (changed) return failUnderLease(deps, first, new ProvisioningError(changed, 'ConfigurationChanged', false));

  const target = grantTargetFor(deps.settings, first);
  let result: ProvisionResult | 'stale';
  try {
    result = await withGrantLease(leaseOptions(deps), target.grantKey, (lease) => provisionUnderLease(deps, lease, target, requestId));
  } catch (e) {
    // The lease stayed taken (GrantBusy): its holder decides under it. Counting or failing the
    // request from here, outside the lease, could end it FAILED while the holder grants access.
    // Any other error (IAM refusing the removal of an extension revoked or ended before it was
    // provisioned) is the caller's: the worker leaves it to the sweeper, which counts it.
    if (!(e instanceof GrantBusyError)) throw e;
    deps.logger.warn('another change to the grant is in progress; provisioning will be retried', { requestId, grantKey: target.grantKey, awsCode: e.awsCode });
    return { outcome: 'retry-later', busy: e };
  }
  if (result === 'stale') result = await settleAfterStaleCommit(deps, target, requestId);
  if (result.outcome === 'active' && result.request) deps.metrics?.count('GrantActivated');
  if (result.outcome === 'failed') deps.metrics?.count('ProvisioningFailed');
  if (result.request && result.event) await announce(deps, result.request, result.event);
  return result;
}

/** One provisioning attempt while holding the grant's lease; 'stale' when the ACTIVE commit found the request changed. */
async function provisionUnderLease(deps: ProvisioningDeps, lease: GrantLease, target: GrantTarget, requestId: string): Promise<ProvisionResult | 'stale'> {
  // Re-read under the lease: a revoke may have ended the request while we waited.
  const request = await deps.requests.get(requestId);
  if (!request || request.status !== 'APPROVED' || !request.endsAt) return { outcome: 'skipped', ...(request ? { request } : {}) };
  const t = isoNow(deps.clock);
  const revoked = await revokedOriginalOf(deps, request);
  if (revoked) return revokeWithOriginal(deps, lease, target, request, revoked, t);
  // Its end passed while this run waited for the lease: it would be no live member of the grant.
  if (request.endsAt <= t) return expireUnderLease(deps, lease, target, request);
  const another = grantOfAnother(lease.grant, target);
  if (another) return recordProvisioningError(deps, lease, target, request, new ProvisioningError(another, 'GrantConflict', false));
  const members = liveMembers({ ...(lease.grant?.members ?? {}), [request.id]: request.endsAt }, t);
  // A member already (a re-run after a crash) is let through: refusing it would only end FAILED what holds access.
  if (Object.keys(members).length > MAX_GRANT_MEMBERS && lease.grant?.members[request.id] === undefined) {
    const full = `The role ${target.roleName} already serves ${MAX_GRANT_MEMBERS} live requests, the most rolegate shares one role among (its grant is one DynamoDB item, and a revoke reads every member): nothing was granted. Let some end, or revoke some, and request again.`;
    return recordProvisioningError(deps, lease, target, request, new ProvisioningError(full, 'GrantFull', false));
  }
  const spec = specFor(deps.settings, target, members);
  let outcome: ProvisionOutcome | undefined;
  let identityCalls: PlannedCall[] = [];
  // What this attempt wrote to IAM, for the error of any later step (the identity side, DynamoDB).
  const sent = () => [...(outcome?.calls ?? []), ...identityCalls].map((c) => c.command);
  try {
    outcome = await deps.provisioner.apply(spec, request.id);
    const identity = identityGranterFor(deps, target.principal);
    identityCalls = identity ? await identity.grant(target.principal, outcome.roleArn, spec.endsAt, target.grantKey) : [];
  } catch (e) {
    noteWritesSent(e, sent());
    if (!(e instanceof ProvisioningError)) throw e;
    return recordProvisioningError(deps, lease, target, request, e);
  }
  const access = accessDetails(outcome.roleArn, target.account, target.profile, target.principal, request.endsAt, target.externalId ? { externalId: target.externalId } : undefined);
  const calls = [...outcome.calls, ...identityCalls];
  const active: AccessRequest = {
    ...request,
    version: request.version + 1,
    status: 'ACTIVE',
    updatedAt: t,
    grantKey: target.grantKey,
    access,
    ...(deps.settings.provisioner.mode === 'dry-run' ? { plan: calls } : {}),
  };
  delete active.failure;
  const provisioned = audit.provisioned(request, {
    id: deps.ids.next(),
    at: t,
    actor: 'rolegate',
    data: { roleArn: outcome.roleArn, grantEndsAt: spec.endsAt, sharedWith: spec.requestIds.filter((id) => id !== request.id), calls: calls.map((c) => c.command) },
    notify: 'request.active',
  });
  try {
    await deps.grants.save(lease, nextGrant(target, lease.grant, members, outcome.roleArn, t, deps.settings.provisioner.mode));
    await commitActive(deps, { request: active, expectedVersion: request.version, events: [provisioned] });
  } catch (e) {
    // Only the commit raises StaleWriteError (a lost lease is a plain ConflictError).
    if (e instanceof StaleWriteError) return 'stale';
    noteWritesSent(e, sent());
    throw e;
  }
  return { outcome: 'active', request: active, event: provisioned };
}

/**
 * The most live requests one grant (one role) is shared among. Its members
 * are one DynamoDB item (400 KB at most, rewritten whole under every lease)
 * and a revoke reads each of them: past a few hundred, a revoke would not
 * fit its API call's time. Far above any real use of one role by one
 * principal for one profile.
 */
export const MAX_GRANT_MEMBERS = 200;

/** Attempts of the ACTIVE commit that another write held at that moment (TransactionConflict): nothing was checked, so the same write may go through. */
const CONTENDED_COMMIT_ATTEMPTS = 3;

/**
 * Commits ACTIVE, sending it again (a few times, briefly) while only
 * contended: the role and the grant are written already, and giving up
 * would leave the request APPROVED without its access details until the
 * sweeper re-drives it, minutes later. A version that moved on is final.
 */
async function commitActive(deps: ProvisioningDeps, write: RequestWrite): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await deps.requests.commit(write);
    } catch (e) {
      if (!(e instanceof StaleWriteError) || e.why !== 'contended' || attempt >= CONTENDED_COMMIT_ATTEMPTS) throw e;
      await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
    }
  }
}

/** Why the configuration no longer lets an approved request be provisioned; undefined while it does. */
function configurationChange(settings: ProvisioningDeps['settings'], request: AccessRequest): string | undefined {
  const rule = settings.rules.find((r) => r.id === request.ruleId);
  if (!rule) return `The rule "${request.ruleId}" that approved request ${request.id} left the configuration before its access was granted; nothing was granted. Make a new request.`;
  try {
    assertRuleStillCovers(settings, rule, request);
  } catch (e) {
    if (e instanceof ForbiddenError) return e.message;
    throw e;
  }
  return frozenApproval(settings, request);
}

/**
 * The request this extension extends, or one further up its chain, if it
 * was revoked. An approval commits only while the request it extends is not
 * REVOKED, but the revocation finds extensions through an index, which may
 * not show one approved just before it; this consistent read, under the
 * grant's lease, is what keeps such an extension from being provisioned.
 */
async function revokedOriginalOf(deps: ProvisioningDeps, request: AccessRequest): Promise<AccessRequest | undefined> {
  const seen = new Set([request.id]);
  for (let id = request.extendsRequestId; id !== undefined && !seen.has(id); ) {
    seen.add(id);
    const original = await deps.requests.get(id);
    if (!original) return undefined;
    if (original.status === 'REVOKED') return original;
    id = original.extendsRequestId;
  }
  return undefined;
}

/**
 * Ends, instead of provisioning, an extension of a request revoked since it
 * was approved, as the revocation would have: REVOKED, out of the grant (a
 * crashed earlier attempt may have put it there), audited and announced.
 */
async function revokeWithOriginal(deps: ProvisioningDeps, lease: GrantLease, target: GrantTarget, request: AccessRequest, original: AccessRequest, now: string): Promise<ProvisionResult> {
  const release = await releaseFromGrant(deps, lease, target, request.id, now);
  const revoked: AccessRequest = { ...request, version: request.version + 1, status: 'REVOKED', updatedAt: now, endedAt: now };
  const event = audit.revoked(request, {
    id: deps.ids.next(),
    at: now,
    actor: 'rolegate',
    comment: `Revoked with request ${original.id}, which it extends: approved just before that revocation, it ends before being provisioned.`,
    notify: 'request.revoked',
  });
  await deps.requests.commit({
    request: revoked,
    expectedVersion: request.version,
    events: [event, audit.accessRemoved(request, { id: deps.ids.next(), at: now, actor: 'rolegate', data: removalData(release) })],
  });
  deps.logger.warn('an extension of a revoked request was revoked instead of provisioned', { requestId: request.id, revokedOriginal: original.id });
  return { outcome: 'revoked', request: revoked, event };
}

/**
 * The ACTIVE commit found the request changed after its access was granted
 * and saved in the grant: a run whose lease had lapsed, or one that decided
 * outside the lease, moved it on. Re-read to decide: ACTIVE (another run
 * made it so) or still APPROVED keeps the access, for the request is live;
 * anything else must not keep a role, so the request is taken out of the
 * grant again, under a fresh lease, and that is audited.
 */
async function settleAfterStaleCommit(deps: ProvisioningDeps, target: GrantTarget, requestId: string): Promise<ProvisionResult> {
  return withGrantLease(leaseOptions(deps), target.grantKey, async (lease): Promise<ProvisionResult> => {
    const request = await deps.requests.get(requestId);
    if (!request) return { outcome: 'skipped' };
    if (request.status === 'ACTIVE') return { outcome: 'skipped', request };
    if (request.status === 'APPROVED') return { outcome: 'retry-later', request };
    // Whoever moved it on under the lease took it out of the grant already; only a membership left behind is ours to undo.
    if (lease.grant?.members[requestId] === undefined) return { outcome: 'skipped', request };
    const now = isoNow(deps.clock);
    const release = await releaseFromGrant(deps, lease, target, requestId, now);
    deps.logger.warn('provisioning finished after the request had left APPROVED; its access was taken back', { requestId, status: request.status, grantKey: target.grantKey });
    await deps.requests.appendEvents([
      audit.accessRemoved(request, {
        id: deps.ids.next(),
        at: now,
        actor: 'rolegate',
        comment: `Provisioning finished after the request became ${request.status}; the access it set up was taken back.`,
        data: removalData(release),
      }),
    ]);
    return { outcome: 'skipped', request };
  });
}

/**
 * The approval came too late to be used: its end passed before provisioning.
 * An earlier attempt may have got as far as the role or the grant before it
 * died, so under the grant's lease the request is taken out of the grant and
 * IAM brought back to what the other live requests need (nothing, if none).
 */
async function endBeforeProvisioning(deps: ProvisioningDeps, first: AccessRequest): Promise<ProvisionResult> {
  const target = grantLocationFor(deps.settings, first);
  const result = await withGrantLease(leaseOptions(deps), target.grantKey, async (lease): Promise<ProvisionResult> => {
    const request = await deps.requests.get(first.id);
    if (!request || request.status !== 'APPROVED') return { outcome: 'skipped', ...(request ? { request } : {}) };
    return expireUnderLease(deps, lease, target, request);
  });
  if (result.request && result.event) await announce(deps, result.request, result.event);
  return result;
}

/** Under the grant's lease: an APPROVED request whose end has passed leaves the grant and ends EXPIRED, never ACTIVE. */
async function expireUnderLease(deps: ProvisioningDeps, lease: GrantLease, target: GrantLocation, request: AccessRequest): Promise<ProvisionResult> {
  const now = isoNow(deps.clock);
  const release = await releaseFromGrant(deps, lease, target, request.id, now, { endHasPassed: true });
  const { calls, owed } = release;
  const expired: AccessRequest = { ...request, version: request.version + 1, status: 'EXPIRED', updatedAt: now, endedAt: now };
  const event = audit.expired(request, { id: deps.ids.next(), at: now, actor: 'rolegate', comment: 'The access ended before it could be provisioned.', notify: 'request.expired' });
  await deps.requests.commit({
    request: expired,
    expectedVersion: request.version,
    events: [
      event,
      owed
        ? audit.accessRemovalOwed(request, { id: deps.ids.next(), at: now, actor: 'rolegate', comment: owed, data: { accountId: target.accountId, roleName: target.roleName, calls: calls.map((c) => c.command) } })
        : audit.accessRemoved(request, { id: deps.ids.next(), at: now, actor: 'rolegate', data: removalData(release) }),
    ],
  });
  // The RemovalOwed alarm tells the operator once that a role was left for them to delete.
  if (owed) deps.metrics?.count('RemovalOwed');
  return { outcome: 'expired', request: expired, event };
}

/**
 * Takes back what a failed provisioning may have left, as ending its access
 * would: the request leaves the grant, and the role and the identity policy
 * are removed, or brought back to the other live requests' state. A failure
 * here is logged, and answered with the IAM writes it had made (for the
 * attempt's audit event); the request then stays APPROVED, so the sweeper
 * tries again.
 */
async function undoForFailedRequest(deps: ProvisioningDeps, lease: GrantLease, target: GrantLocation, request: AccessRequest, now: string, justCreated: boolean): Promise<Release | UndoFailed> {
  const requestId = request.id;
  try {
    return await releaseFromGrant(deps, lease, target, requestId, now, {
      ...(request.endsAt !== undefined ? { failedEndingBy: request.endsAt } : {}),
      ...(justCreated ? { justCreated: true } : {}),
    });
  } catch (e) {
    const undoWrites = writesSentBefore(e);
    deps.logger.error('could not undo a failed provisioning; the request stays APPROVED and is retried', { requestId, grantKey: target.grantKey, error: errorForLog(e), writesBeforeError: undoWrites });
    return { undoWrites };
  }
}

/** An undo that failed, with the IAM writes it had made before its error. */
interface UndoFailed {
  undoWrites: string[];
}

const undoFailed = (cleanup: Release | UndoFailed): cleanup is UndoFailed => 'undoWrites' in cleanup;

/**
 * The sweeper's answer to an error provisioning did not expect (not a
 * ProvisioningError: a bug, a DynamoDB error): counted like a transient
 * error under the grant's lease, so the request waits its turn again and,
 * once the attempt budget is spent, ends FAILED (retryable) with the error
 * as its reason, after what IAM may hold for it was undone, instead of
 * staying APPROVED at the head of the queue.
 */
export async function recordUnexpectedProvisioningError(deps: ProvisioningDeps, request: AccessRequest, e: unknown): Promise<ProvisionResult> {
  // Rolegate's own errors say what a person can act on. Any other may quote what only operators should
  // read (an SDK's message names ARNs of rolegate's roles and tables, an SCP), and the reason reaches the
  // requester, the approval channel and webhooks: it stays in the sweeper's log (sweep step failed).
  const mine = messageForUsers(e);
  const why = mine !== undefined ? `: ${mine}` : ` (${IN_THE_SWEEPERS_LOG})`;
  const error = new ProvisioningError(`Provisioning failed with an unexpected error${why}`, 'UnexpectedError', true);
  noteWritesSent(error, writesSentBefore(e));
  return failUnderLease(deps, request, error);
}

/**
 * Records a provisioning error found outside the grant's lease (a
 * configuration that no longer covers the request, an error provisioning did
 * not expect) under that lease, from a fresh read: counted, or FAILED once
 * what IAM may hold for the request was undone.
 */
async function failUnderLease(deps: ProvisioningDeps, request: AccessRequest, error: ProvisioningError): Promise<ProvisionResult> {
  // From what the request holds: the account or profile may have left the configuration.
  const target = grantLocationFor(deps.settings, request);
  let result: ProvisionResult;
  try {
    result = await withGrantLease(leaseOptions(deps), target.grantKey, async (lease): Promise<ProvisionResult> => {
      const current = await deps.requests.get(request.id);
      if (!current || current.status !== 'APPROVED') return { outcome: 'skipped', ...(current ? { request: current } : {}) };
      return recordProvisioningError(deps, lease, target, current, error);
    });
  } catch (busy) {
    if (!(busy instanceof GrantBusyError)) throw busy;
    return { outcome: 'retry-later', busy };
  }
  if (result.outcome === 'failed') deps.metrics?.count('ProvisioningFailed');
  if (result.request && result.event) await announce(deps, result.request, result.event);
  return result;
}

/**
 * Under the grant's lease, from one read of the request: a permanent error,
 * or the last transient one the budget allows, marks the request FAILED with
 * the AWS code and a plain reason, once IAM no longer holds anything for it;
 * a transient one is counted, audited and left for the next attempt. A
 * request whose undo failed is counted and left APPROVED: FAILED never keeps
 * a role.
 */
async function recordProvisioningError(deps: ProvisioningDeps, lease: GrantLease, target: GrantLocation, read: AccessRequest, error: ProvisioningError): Promise<ProvisionResult> {
  const maxAttempts = deps.maxProvisioningAttempts ?? 5;
  let preread: AccessRequest | undefined = read;
  let cleanup: Release | UndoFailed | undefined;
  return withOptimisticRetry(async (): Promise<ProvisionResult> => {
    const request = preread ?? (await deps.requests.get(read.id));
    preread = undefined;
    if (!request || request.status !== 'APPROVED') return { outcome: 'skipped', ...(request ? { request } : {}) };
    const now = isoNow(deps.clock);
    // A step not sent for want of lease time (OutOfTime) tried nothing against AWS: it counts only as the
    // first attempt, which takes the request off the worker's stream filter (attempts 0). Rewritten with
    // attempts still 0, it would start the worker again at once, without bound; left unwritten, its due
    // entry (keyed by updatedAt) would keep it first in the sweeper's queue, tick after tick.
    const before = request.provisioningAttempts ?? 0;
    const attempts = before + (error.awsCode === 'OutOfTime' && before > 0 ? 0 : 1);
    const fails = !error.retryable || attempts >= maxAttempts;
    // A request about to end FAILED must not leave access behind: undo what IAM holds for it first.
    const writes = writesSentBefore(error);
    // The attempt's CreateRole went out: IAM may not show the role to the undo at once.
    if (fails && (cleanup === undefined || undoFailed(cleanup))) cleanup = await undoForFailedRequest(deps, lease, target, request, now, writes.includes('CreateRole'));
    if (!fails || cleanup === undefined || undoFailed(cleanup)) {
      const undoWrites = cleanup && undoFailed(cleanup) ? cleanup.undoWrites : [];
      // Not announced: the request stays APPROVED and is tried again. Audited: each counted attempt up to the
      // budget (the last says its undo failed), and any attempt that wrote to IAM. An undo that keeps failing
      // past the budget is re-driven every few minutes; each of those repeats is logged and counted only,
      // unless it wrote, so the request's audit trail does not grow without bound.
      const audited = (attempts !== before && attempts <= maxAttempts) || writes.length > 0;
      const events = audited
        ? [
            audit.provisioningAttemptFailed(request, {
              id: deps.ids.next(),
              at: now,
              actor: 'rolegate',
              comment: error.message,
              data: {
                awsCode: error.awsCode ?? 'ProvisioningFailed',
                attempts,
                maxAttempts,
                writesBeforeError: writes,
                // What the failed undo had written to IAM before its own error.
                ...(fails ? { undo: 'failed', ...(undoWrites.length > 0 ? { undoWritesBeforeError: undoWrites } : {}) } : {}),
              },
            }),
          ]
        : [];
      deps.logger.warn('provisioning failed; it will be retried', { requestId: request.id, attempts, awsCode: error.awsCode, reason: errorForLog(error) });
      if (fails) deps.metrics?.count('ProvisioningFailed');
      // Rewritten, so its due entry moves behind work that fell due meanwhile.
      const counted: AccessRequest = { ...request, version: request.version + 1, updatedAt: now, provisioningAttempts: attempts };
      await deps.requests.commit({ request: counted, expectedVersion: request.version, events });
      return { outcome: 'retry-later', request: counted };
    }
    const failure: FailureInfo = { code: error.awsCode ?? 'ProvisioningFailed', message: error.message, at: now, retryable: error.retryable };
    const failed: AccessRequest = { ...request, version: request.version + 1, status: 'FAILED', updatedAt: now, provisioningAttempts: attempts, failure };
    const event = audit.provisioningFailed(request, {
      id: deps.ids.next(),
      at: now,
      actor: 'rolegate',
      comment: error.message,
      // What the undo did in IAM, as an ended access records it: the role deleted, or rewritten for the others.
      data: { awsCode: failure.code, attempts, writesBeforeError: writes, cleanup: 'done', ...removalData(cleanup) },
      notify: 'request.failed',
    });
    await deps.requests.commit({ request: failed, expectedVersion: request.version, events: [event] });
    deps.logger.error('provisioning failed', { requestId: request.id, awsCode: failure.code, reason: errorForLog(error) });
    return { outcome: 'failed', request: failed, event };
  });
}
