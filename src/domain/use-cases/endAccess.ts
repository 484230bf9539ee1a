import { actedBy, audit, eventActor } from '../audit';
import { ConflictError, errorForLog, GrantBusyError, messageForUsers, noteWritesSent, NotFoundError, ProvisioningError, RolegateError, StaleWriteError, writesSentBefore } from '../errors';
import { grantLocationFor, withGrantLease } from '../grants';
import { SYSTEM_ACTOR, type AccessRequest, type Actor, type EventActor, type RequestStatus } from '../model';
import { principalFromCallerArn } from '../principal';
import { assertTransition, TERMINAL } from '../state-machine';
import { announce, isoNow, withOptimisticRetry } from './context';
import { cancelOrphanedExtension } from './cancelRequest';
import { assertSees } from './getRequest';
import { leaseOptions, releaseFromGrant, removalData, type ReleaseOptions } from './grant-membership';
import type { ProvisioningDeps } from './provisionRequest';

export type EndReason = 'EXPIRED' | 'REVOKED';

/** What a failed attempt's audit event says of an error that is not rolegate's own (its text stays in the log). */
const UNEXPECTED_FOR_USERS = "an unexpected error (the log of the rolegate function that ran it holds it, under this request's id)";
/** What it says when the request changed before its end could be recorded (another run moved it on). */
const CHANGED_MEANWHILE = 'the request changed before its end was recorded; it is decided again on the request as stored';
/** Failed expiries by the sweeper (sweepRetry) whose IAM writes are audited; later ones are logged only. */
export const MAX_AUDITED_SWEEP_ATTEMPTS = 5;

/**
 * Ends one request's access. Under the grant's lease the request leaves the
 * grant; when no other live request covers it, the role (with its policies)
 * and the identity-side policy are deleted, so sessions already issued lose
 * their permissions too; otherwise the role's trust is narrowed to the
 * remaining end. IAM changes come first and the state change last, so a
 * crash at any point leaves the request live and a re-run converges.
 */
export async function endAccess(
  deps: ProvisioningDeps,
  requestId: string,
  to: EndReason,
  by: EventActor,
  comment?: string,
  /** The request as just read (the sweeper's due query); saves a read on the first attempt. */
  known?: AccessRequest,
  options: Pick<ReleaseOptions, 'leavingWith'> = {},
): Promise<AccessRequest> {
  let preread = known;
  const ended = await withOptimisticRetry(async () => {
    const request = preread ?? (await deps.requests.get(requestId));
    preread = undefined;
    if (!request) throw new NotFoundError(`Request ${requestId} does not exist.`);
    // A concurrent sweep or revoke ended it first: nothing left to do.
    if (by.arn === SYSTEM_ACTOR.arn && TERMINAL.includes(request.status)) return { request, changed: false, event: undefined, owed: false };
    assertTransition(request.status, to, to === 'REVOKED' ? 'revoke it' : 'expire it');
    // From what the request stored, not the configuration: a profile or account removed since must not strand the access.
    const target = grantLocationFor(deps.settings, request);

    return withGrantLease(leaseOptions(deps), target.grantKey, async (lease) => {
      // Read before the lease: a sweep or revoke that held it first may have ended the request meanwhile,
      // and taken it out of the grant. Not in it, it is read again rather than removed over (and its commit
      // refused only after the IAM calls); in it, as nearly always, nothing ended it.
      if (lease.grant?.members[request.id] === undefined && (await movedOn(deps, request))) {
        throw new StaleWriteError('changed', `Request ${request.id} changed while this run waited for its grant.`);
      }
      const now = isoNow(deps.clock);
      const release = await releaseFromGrant(deps, lease, target, request.id, now, {
        ...options,
        endHasPassed: to === 'EXPIRED' || (request.endsAt !== undefined && request.endsAt <= now),
      }).catch((e: unknown) => auditWritesOf(deps, request, e, 'failed'));
      const { calls, owed } = release;

      const next: AccessRequest = { ...request, version: request.version + 1, status: to, updatedAt: now, endedAt: now };
      const input = { id: deps.ids.next(), at: now, ...actedBy(by), ...(comment !== undefined ? { comment } : {}) };
      const event = to === 'REVOKED' ? audit.revoked(request, { ...input, notify: 'request.revoked' }) : audit.expired(request, { ...input, notify: 'request.expired' });
      const commit = deps.requests.commit({
        request: next,
        expectedVersion: request.version,
        events: [
          event,
          owed
            ? audit.accessRemovalOwed(request, {
                id: deps.ids.next(),
                at: now,
                actor: 'rolegate',
                comment: owed,
                data: { accountId: target.accountId, roleName: target.roleName, calls: calls.map((c) => c.command) },
              })
            : audit.accessRemoved(request, {
                id: deps.ids.next(),
                at: now,
                actor: 'rolegate',
                data: removalData(release),
              }),
        ],
      });
      // The IAM writes are made: should the commit fail, the attempt that made them is audited all the same.
      // A refusal (RolegateError) wrote nothing; any other failure (a timeout, a 5xx) may have landed, with its
      // ACCESS_REMOVED: then the request has moved on, and the attempt is not audited as failed.
      await commit.catch((e: unknown) => {
        noteWritesSent(e, calls.map((c) => c.command));
        return auditWritesOf(deps, request, e, e instanceof RolegateError ? 'failed' : 'unanswered');
      });
      return { request: next, changed: true, event, owed: owed !== undefined };
    });
  });
  if (ended.changed) deps.metrics?.count('AccessEnded');
  // The RemovalOwed alarm tells the operator once that a role was left for them to delete.
  if (ended.owed) deps.metrics?.count('RemovalOwed');
  if (ended.event) await announce(deps, ended.request, ended.event);
  return ended.request;
}

/**
 * An attempt to end the access that failed after writing to IAM: what it
 * wrote goes on the request's audit trail (ACCESS_REMOVAL_ATTEMPT_FAILED,
 * changing no state, notifying nobody), as a failed provisioning attempt's
 * does, so the trail holds the IAM changes rolegate saw made, not only those
 * of the attempt that succeeds (a write whose own answer was lost is not
 * known to have been made: the next attempt finds what it did).
 *
 * `unanswered`: the commit failed without an answer (a timeout, a 5xx) and
 * may yet land; the event is written only while the request is still at the
 * version read, and says `commitUnanswered`, for a commit still in flight
 * may land after it. The sweeper's expiry is audited for its first
 * MAX_AUDITED_SWEEP_ATTEMPTS failures only (each repeat of a write-then-fail
 * would add one every 15 minutes); later ones are logged. Best effort: the
 * error is rethrown either way, and a failed audit write is logged with the
 * writes it would have recorded.
 */
async function auditWritesOf(deps: ProvisioningDeps, request: AccessRequest, e: unknown, commit: 'failed' | 'unanswered'): Promise<never> {
  const writes = writesSentBefore(e);
  const repeats = request.sweepRetry?.kind === 'EXPIRE' ? request.sweepRetry.attempts : 0;
  if (writes.length > 0 && repeats >= MAX_AUDITED_SWEEP_ATTEMPTS) {
    deps.logger.warn('an expiry failed again after writing to IAM; past its first attempts, this is logged only', { requestId: request.id, attempts: repeats + 1, writesBeforeError: writes, reason: errorForLog(e) });
  } else if (writes.length > 0) {
    const awsCode = e instanceof ProvisioningError ? e.awsCode : undefined;
    const event = audit.accessRemovalAttemptFailed(request, {
      id: deps.ids.next(),
      at: isoNow(deps.clock),
      actor: 'rolegate',
      // On the request, which its requester, grantee and approvers read: rolegate's own words only.
      comment: e instanceof StaleWriteError ? CHANGED_MEANWHILE : (messageForUsers(e) ?? UNEXPECTED_FOR_USERS),
      data: { ...(awsCode ? { awsCode } : {}), writesBeforeError: writes, ...(commit === 'unanswered' ? { commitUnanswered: true } : {}) },
    });
    const written = commit === 'unanswered' ? deps.requests.appendEventsWhileAt([event], request) : deps.requests.appendEvents([event]);
    await written.catch((failure: unknown) =>
      deps.logger.error('the IAM writes of a failed attempt to end access could not be audited', { requestId: request.id, writesBeforeError: writes, reason: errorForLog(failure) }),
    );
  }
  throw e;
}

/** Whether the request's stored version is no longer the one read (or it is gone). */
async function movedOn(deps: ProvisioningDeps, read: AccessRequest): Promise<boolean> {
  return (await deps.requests.get(read.id))?.version !== read.version;
}

/**
 * Revocation: an approver under the request's rule, or the requester or
 * grantee saying they are done. A pending request is cancelled or denied
 * instead.
 */
export async function revokeRequest(deps: ProvisioningDeps, actor: Actor, requestId: string, comment?: string): Promise<AccessRequest> {
  const caller = principalFromCallerArn(actor.arn);
  const request = await deps.requests.get(requestId);
  if (!request) throw new NotFoundError(`Request ${requestId} does not exist.`);
  // Whoever may see it: the requester, the grantee, an approver of its rule (or, its rule gone, of it).
  assertSees(deps.settings, request, caller, 'Only an approver of its rule, a responder, the requester or the grantee may revoke a request.');
  if (request.status === 'PENDING') {
    throw new ConflictError(`Request ${request.id} is still pending: cancel it (requester) or deny it (approver) instead.`, [
      { field: 'status', reason: 'is PENDING' },
    ]);
  }
  // Refused before anything changes (an EXPIRED request is not revoked, nor its extensions);
  // a REVOKED one passes, so a repeat finishes a revocation a crash cut short.
  if (request.status !== 'REVOKED') assertTransition(request.status, 'REVOKED', 'revoke it');
  const chain = new Set([request.id]);
  const by: EventActor = eventActor(caller.arn, actor);
  if (request.status === 'REVOKED') return finishRevocation(deps, request, by, chain);
  // Its extensions prolong the same access: they go too, first, so a failure midway leaves the
  // request live and the revocation can simply be repeated. They leave the shared role together
  // with the request, so the role's end is never pulled back to the request's on the way.
  let revoked: AccessRequest;
  const ended = { count: 0 };
  try {
    await endExtensions(deps, request, by, chain, ended);
    revoked = await endAccess(deps, requestId, 'REVOKED', by, comment);
  } catch (e) {
    // Nothing retries a revoke on its own: the caller must be told to repeat it, and that the request is not revoked.
    if (e instanceof GrantBusyError) throw notRevokedYet(request, ended.count);
    // "It will be retried" is true of the sweeper's steps, not of a revoke: say it must be repeated.
    if (e instanceof ProvisioningError && e.awsCode === 'OutOfTime') {
      throw new ProvisioningError(`Request ${request.id} is not revoked: ${OUT_OF_TIME}${extensionsEnded(ended.count)}`, 'OutOfTime', true);
    }
    // It ended meanwhile (the sweeper expired it) after its extensions were revoked: the access is
    // gone, as asked, and a 409 would read as if nothing had changed. Answered with it as it is.
    if (e instanceof ConflictError && ended.count > 0) {
      const now = await deps.requests.get(requestId);
      if (now && TERMINAL.includes(now.status)) return now;
    }
    throw e;
  }
  // One granted between the listing above and this revocation could not see it (a grant commits
  // only while the request it extends is not REVOKED): look again until a pass finds none. The
  // chain is kept across passes, so an extension of an extension revoked meanwhile is still found.
  await finishRevocation(deps, request, by, chain, 'after');
  return revoked;
}

/**
 * Ends what extensions of a REVOKED request still hold. A repeated revoke
 * that finds some answers with the request (the revocation is now
 * finished); one that finds none is a 409, as it changes nothing.
 */
async function finishRevocation(deps: ProvisioningDeps, request: AccessRequest, by: EventActor, chain: Set<string>, when: 'repeat' | 'after' = 'repeat'): Promise<AccessRequest> {
  let found = 0;
  try {
    for (let pass = 1; ; pass++) {
      const n = await endExtensions(deps, request, by, chain);
      found += n;
      if (n === 0) break;
      // Still ending extensions granted meanwhile, pass after pass, one more pass included: never reported as
      // finished while one may be live.
      if (pass > MAX_EXTENSION_PASSES) {
        throw new ProvisioningError(`Extensions of it were still being granted after ${pass} passes.`, 'RevocationIncomplete', true);
      }
    }
  } catch (e) {
    // The request is REVOKED, but an extension keeps its access: counted and alarmed (through Slack
    // no 5xx reaches the gateway's alarm), and reported as a failure to finish, never as "nothing changed".
    deps.metrics?.count('RevocationIncomplete');
    throw incomplete(request, e);
  }
  if (when === 'repeat' && found === 0) assertTransition(request.status, 'REVOKED', 'revoke it');
  return (await deps.requests.get(request.id)) ?? request;
}

/** A revoke that found the grant busy before the request itself was revoked: still live, to be repeated. */
function notRevokedYet(request: AccessRequest, count: number): GrantBusyError {
  return new GrantBusyError(
    `Request ${request.id} is not revoked: another change to its grant${request.grantKey ? ` ${request.grantKey}` : ''} is in progress. Repeat the revoke in a few seconds.` +
      extensionsEnded(count),
  );
}

const OUT_OF_TIME = 'this call ran out of time before its next IAM change (IAM was slow or throttling). Repeat the revoke to finish it.';

const extensionsEnded = (n: number) => (n > 0 ? ` ${n} of its extensions ${n === 1 ? 'was' : 'were'} already ended and stay${n === 1 ? 's' : ''} ended.` : '');

/** What a revocation that ended the request but not all of its extensions reports. */
function incomplete(request: AccessRequest, e: unknown): unknown {
  // A busy grant must not read as GRANT_BUSY ("nothing changed, try again") while its access stays: repeating the revoke finishes it.
  if (e instanceof GrantBusyError) {
    return new ProvisioningError(
      `Request ${request.id} is revoked, but one of its extensions could not be ended yet: another change to its grant${request.grantKey ? ` ${request.grantKey}` : ''} is in progress. Its access stays until then: repeat the revoke to finish it.`,
      'RevocationIncomplete',
      true,
    );
  }
  // Out of time: said as for the request itself (the step's own text promises a retry nothing makes).
  if (e instanceof ProvisioningError && e.awsCode === 'OutOfTime') {
    return new ProvisioningError(`Request ${request.id} is revoked, but one of its extensions could not be ended, so its access stays: ${OUT_OF_TIME}`, 'RevocationIncomplete', true);
  }
  // IAM refused, or the configuration no longer allows it (a 409 would read as "nothing changed"): why, and that the request itself is revoked.
  if (e instanceof ProvisioningError || e instanceof ConflictError) {
    return new ProvisioningError(
      `Request ${request.id} is revoked, but one of its extensions could not be ended, so its access stays: ${e.message} Repeat the revoke to finish it.`,
      'RevocationIncomplete',
      e instanceof ProvisioningError && e.retryable,
      'PROVISIONING_FAILED',
      e instanceof ProvisioningError ? e.awsMessage : undefined,
    );
  }
  return e; // unexpected: an opaque 500, the details in the log
}

/** Each pass finds what concurrent grants made during the last one; the chain is short in practice. */
const MAX_EXTENSION_PASSES = 10;

/**
 * Revokes the request's live extensions (and theirs) and cancels its
 * pending ones, since a later approval would give back the access being
 * taken away. Returns how many this pass ended (one the index still showed,
 * already ended, is not counted: the index lags); `ended` counts them across
 * calls, as it goes (a revoke cut short says how many). An extension that
 * could not be ended and is still live (its role cannot be reached) fails
 * the revocation: the access it carries is not gone.
 */
async function endExtensions(deps: ProvisioningDeps, request: AccessRequest, by: EventActor, chain: Set<string>, ended = { count: 0 }): Promise<number> {
  const before = ended.count;
  const extensions = await extensionsOf(deps, request, chain);
  for (const extension of extensions.pending) {
    try {
      await cancelOrphanedExtension(deps, extension.id, by, request.id);
      ended.count++;
    } catch (e) {
      if (!(e instanceof ConflictError)) throw e;
      // Decided meanwhile. Approved (or granted already), it is revoked now, not left for an index that may lag.
      const now = await deps.requests.get(extension.id);
      if (now && LIVE_EXTENSION.includes(now.status)) {
        chain.add(now.id);
        await revokeExtension(deps, now.id, request, by, chain, ended);
      }
    }
  }
  for (const extension of extensions.live) await revokeExtension(deps, extension.id, request, by, chain, ended);
  return ended.count - before;
}

/** Revokes one extension with the request it extends; one ended meanwhile is left as it is. */
async function revokeExtension(deps: ProvisioningDeps, id: string, request: AccessRequest, by: EventActor, chain: Set<string>, ended: { count: number }): Promise<void> {
  try {
    // The whole chain is leaving: the role is not narrowed to links about to leave too.
    await endAccess(deps, id, 'REVOKED', by, `Revoked with request ${request.id}, which it extends.`, undefined, { leavingWith: chain });
    ended.count++;
  } catch (e) {
    if (!(e instanceof ConflictError)) throw e;
    const now = await deps.requests.get(id);
    if (now && !TERMINAL.includes(now.status)) throw e; // not ended meanwhile: its access stays, so the revocation must say so
  }
}

/** The statuses in which an extension holds or may still get access (FAILED: an approver may retry it). */
const LIVE_EXTENSION: readonly RequestStatus[] = ['APPROVED', 'ACTIVE', 'FAILED'];

/**
 * Requests extending this one, directly or through other extensions: the
 * ones that hold or may still get access and the pending ones, which can
 * only extend the request or one of those. `chain` holds every id known to
 * extend it (and the request itself) and grows.
 *
 * They are found by walking the chain through the byExtends index, one
 * query per link, so the cost follows the chain, not the requester's
 * history. An index is eventually consistent: it may not show an extension
 * approved a moment ago, or still show it PENDING. So the members of the
 * grant (read consistently) are read afresh too: an extension provisioned
 * before this revocation took the lease is one of them. One approved but
 * not yet provisioned is revoked by its provisioning, which reads this
 * request, under the same lease, first.
 */
async function extensionsOf(deps: ProvisioningDeps, request: AccessRequest, chain: Set<string>): Promise<{ live: AccessRequest[]; pending: AccessRequest[] }> {
  const grant = await deps.grants.get(grantLocationFor(deps.settings, request).grantKey);
  const fresh = new Map<string, AccessRequest>();
  for (const id of Object.keys(grant?.members ?? {})) {
    const member = id === request.id ? undefined : await deps.requests.get(id);
    if (member) fresh.set(id, member);
  }
  // Every request extending this one, directly or through others (whatever their status), from the index.
  const found = new Map<string, AccessRequest>();
  const walked = new Set<string>();
  for (const toWalk = [...chain]; toWalk.length > 0; ) {
    const id = toWalk.pop()!;
    if (walked.has(id)) continue;
    walked.add(id);
    for (const extension of await deps.requests.extensionsOf(id)) {
      found.set(extension.id, extension);
      toWalk.push(extension.id);
    }
    // A grant member the index does not show yet may itself be extended.
    for (const member of fresh.values()) if (member.extendsRequestId === id) toWalk.push(member.id);
  }
  const indexed = [...found.values()].filter((r) => LIVE_EXTENSION.includes(r.status));
  const candidates = [...indexed.filter((r) => !fresh.has(r.id)), ...[...fresh.values()].filter((r) => LIVE_EXTENSION.includes(r.status))];
  for (let grew = true; grew; ) {
    grew = false;
    for (const r of candidates) {
      if (r.extendsRequestId && chain.has(r.extendsRequestId) && !chain.has(r.id)) {
        chain.add(r.id);
        grew = true;
      }
    }
  }
  const live = candidates.filter((r) => r.id !== request.id && chain.has(r.id));
  const pending = [...found.values()].filter((r) => r.status === 'PENDING' && !fresh.has(r.id) && r.extendsRequestId !== undefined && chain.has(r.extendsRequestId));
  return { live, pending };
}
