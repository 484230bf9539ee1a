import { actedBy, audit, eventActor } from '../audit';
import { ConflictError, RolegateError, StaleWriteError } from '../errors';
import type { AccessRequest, Actor } from '../model';
import { IDEMPOTENCY_HOURS, claimantOf, type Claimant, type RequestWrite } from '../ports';
import { principalFromCallerArn, principalKeyOf, type Principal } from '../principal';
import { assertNamedAsRequester, assertNotFrozen, assertNotGrantRole, checkDuration, findAccount, findProfile, personalPin, resolveGrantee, ruleFor } from '../rules';
import { accessEndFor } from './extendRequest';
import { addMinutes, announce, enqueueSafely, isoNow, type CoreDeps } from './context';
import type { AccountSettings, Profile, Rule } from '../settings';

export interface CreateRequestInput {
  /** 12-digit account id or alias. */
  account: string;
  profile: string;
  durationMinutes: number;
  reason: string;
  ticket?: string;
  /** A workload principal to grant instead of the caller (only where the rule allows it). */
  principalArn?: string;
  /** Set by extendRequest: the request whose grant this one prolongs. */
  extendsRequestId?: string;
  /** Set by extendRequest: the original's personal pin, which an extension keeps (it prolongs that role). */
  principalSession?: string;
  /**
   * Set by a caller that may run again for the same intent (a Slack job the
   * stream delivers twice): the new request's id. A run that finds a request
   * of the same caller under it returns that request and makes none.
   */
  requestId?: string;
  /**
   * The client's Idempotency-Key: a call that repeats one this requester
   * made under the same key in the last IDEMPOTENCY_HOURS gets the request
   * the first call made (as it is now), and nothing new is made. The same
   * key for another request is a conflict.
   */
  idempotencyKey?: string;
}

/**
 * Records a request for access. The caller comes from the authenticated
 * context; the rule that covers caller, account and profile decides the
 * maximum duration, the approvers and whether it is approved at once.
 */
export async function createRequest(deps: CoreDeps, actor: Actor, input: CreateRequestInput): Promise<AccessRequest> {
  const caller = principalFromCallerArn(actor.arn);
  if (input.requestId) {
    const made = await madeBefore(deps, input.requestId, caller.arn);
    if (made) return made;
  }
  // extendRequest looked already, before its own checks.
  const key = input.extendsRequestId === undefined ? input.idempotencyKey : undefined;
  let terms: Terms;
  try {
    terms = checkedTerms(deps, actor, caller, input);
  } catch (e) {
    // A repeat of a call that made its request gets that request, whatever this run's checks say now (a rule, a
    // freeze or the caller's standing changed since). The key is read only then: a first call costs no read of it,
    // and a repeat that passes the checks finds the earlier request through its commit, which the claim refuses.
    if (key !== undefined && e instanceof RolegateError) {
      const made = await madeUnderKey(deps, claimantOfCaller(caller.arn, actor), key, input);
      if (made) return made;
    }
    throw e;
  }
  return commitRequest(deps, actor, caller, input, terms);
}

interface Terms {
  account: AccountSettings;
  profile: Profile;
  rule: Rule;
  grantee: Principal;
  pin: { principalSession?: string };
}

/** Who may ask whom for what: the rule's checks, every refusal a RolegateError. */
function checkedTerms(deps: CoreDeps, actor: Actor, caller: Principal, input: CreateRequestInput): Terms {
  assertNamedAsRequester(deps.settings, caller, input.profile, input.account);
  const account = findAccount(deps.settings, input.account);
  const profile = findProfile(deps.settings, input.profile);
  const rule = ruleFor(deps.settings, caller, account, profile.name, input.account);
  const grantee = resolveGrantee(rule, caller, input.principalArn);
  assertNotGrantRole(deps.settings, caller, 'request access');
  assertNotGrantRole(deps.settings, grantee, 'be given access');
  assertNotFrozen(deps.settings, caller, grantee, account);
  checkDuration(deps.settings, rule, input.durationMinutes);
  return { account, profile, rule, grantee, pin: pinOf(deps, actor, caller, grantee, input) };
}

async function commitRequest(deps: CoreDeps, actor: Actor, caller: Principal, input: CreateRequestInput, terms: Terms): Promise<AccessRequest> {
  const { account, profile, rule, grantee, pin } = terms;
  const now = isoNow(deps.clock);
  const pending: AccessRequest = {
    id: input.requestId ?? deps.ids.next(),
    version: 1,
    status: 'PENDING',
    requester: caller.arn,
    ...(actor.person !== undefined ? { requesterPerson: actor.person } : {}),
    principalArn: grantee.arn,
    ...pin,
    accountId: account.id,
    accountAlias: account.alias,
    profile: profile.name,
    ruleId: rule.id,
    durationMinutes: input.durationMinutes,
    reason: input.reason,
    ...(input.ticket ? { ticket: input.ticket } : {}),
    ...(input.extendsRequestId ? { extendsRequestId: input.extendsRequestId } : {}),
    approvalsRequired: rule.autoApprove ? 0 : rule.approvalsRequired,
    approvals: [],
    createdAt: now,
    updatedAt: now,
    decisionDeadline: addMinutes(now, rule.pendingTimeoutMinutes),
  };
  const requested = {
    id: deps.ids.next(),
    at: now,
    ...actedBy(eventActor(caller.arn, actor)),
    comment: input.reason,
    data: { account: account.id, profile: profile.name, durationMinutes: input.durationMinutes, principal: grantee.arn },
  };
  // An extension shows on the original's own trail too, in the same transaction: a reader of the original
  // sees who asked to extend it, when and why, and which request carries the extension.
  const onOriginal = input.extendsRequestId
    ? [audit.extensionRequested({ id: input.extendsRequestId }, { ...requested, id: deps.ids.next(), data: { extensionId: pending.id, durationMinutes: input.durationMinutes } })]
    : [];

  if (rule.autoApprove) {
    const approved: AccessRequest = { ...pending, status: 'APPROVED', approvedAt: now, endsAt: await accessEndFor(deps.requests, pending, now, rule.maxDurationMinutes), provisioningAttempts: 0 };
    const autoApproved = audit.autoApproved(approved, { id: deps.ids.next(), at: now, actor: 'rolegate', data: { rule: rule.id }, notify: 'request.approved' });
    const earlier = await commitNew(
      deps,
      { request: approved, events: [audit.requested(pending, requested), autoApproved, ...onOriginal], ...(input.extendsRequestId ? { unlessRevoked: input.extendsRequestId } : {}), ...claimOf(input) },
      input,
    );
    if (earlier) return earlier;
    deps.metrics?.count('RequestCreated');
    deps.metrics?.count('RequestApproved');
    await enqueueSafely(deps, approved.id);
    await announce(deps, approved, autoApproved);
    return approved;
  }

  const created = audit.requested(pending, { ...requested, notify: 'request.created' });
  const earlier = await commitNew(deps, { request: pending, events: [created, ...onOriginal], ...claimOf(input) }, input);
  if (earlier) return earlier;
  deps.metrics?.count('RequestCreated');
  await announce(deps, pending, created);
  return pending;
}

/** The request a previous run made under a caller-chosen id; another caller's is a conflict, never returned. */
async function madeBefore(deps: CoreDeps, id: string, callerArn: string): Promise<AccessRequest | undefined> {
  const existing = await deps.requests.get(id);
  if (existing && existing.requester !== callerArn) throw new ConflictError('A request with this id already exists.');
  return existing;
}

export const claimantOfCaller = (arn: string, actor: Actor): Claimant => ({ requester: arn, ...(actor.person !== undefined ? { person: actor.person } : {}) });

/** An extension keeps its original's pin (it prolongs that role); a new request takes the caller's (rules.ts personalPin). */
function pinOf(deps: CoreDeps, actor: Actor, caller: Principal, grantee: Principal, input: CreateRequestInput): { principalSession?: string } {
  if (input.extendsRequestId !== undefined) return input.principalSession !== undefined ? { principalSession: input.principalSession } : {};
  return personalPin(deps.settings, actor, caller, grantee);
}

const claimOf = (input: CreateRequestInput) => (input.idempotencyKey !== undefined ? { claim: input.idempotencyKey } : {});

/**
 * The request this requester made under an idempotency key still claimed,
 * if the intent is the same; another intent under the same key is refused,
 * as a client that reuses a key would otherwise be told its new request
 * was made when it was not.
 */
export async function madeUnderKey(deps: CoreDeps, claimant: Claimant, key: string, intent: CreateRequestInput): Promise<AccessRequest | undefined> {
  const id = await deps.requests.claimed(claimant, key, isoNow(deps.clock));
  const made = id === undefined ? undefined : await deps.requests.get(id);
  if (made && !sameIntent(made, intent)) {
    throw new ConflictError(`This Idempotency-Key was used for request ${made.id}, which asked for something else; use a new key for a new request.`, [
      { field: 'Idempotency-Key', reason: `was used in the last ${IDEMPOTENCY_HOURS} hours for another request` },
    ]);
  }
  return made;
}

/** Whether a request made earlier asked for what this input asks (account by id or alias; no principal: the requester). */
function sameIntent(made: AccessRequest, intent: CreateRequestInput): boolean {
  const grantee = (arn: string) => principalKeyOf(arn) ?? arn;
  return (
    (made.accountId === intent.account || made.accountAlias === intent.account) &&
    made.profile === intent.profile &&
    made.durationMinutes === intent.durationMinutes &&
    made.reason === intent.reason &&
    (made.ticket ?? '') === (intent.ticket ?? '') &&
    made.extendsRequestId === intent.extendsRequestId &&
    grantee(made.principalArn) === grantee(intent.principalArn ?? made.requester)
  );
}

/**
 * Commits a new request. With a caller-chosen id or an idempotency key, a
 * concurrent run of the same intent may have committed first: its request
 * is returned instead.
 */
async function commitNew(deps: CoreDeps, write: RequestWrite, input: CreateRequestInput): Promise<AccessRequest | undefined> {
  for (let attempt = 1; ; attempt++) {
    try {
      await deps.requests.commit(write);
      return undefined;
    } catch (e) {
      if (!(e instanceof ConflictError)) {
        // The write failed otherwise (DynamoDB throttled it past its retries; a timeout, after which it may have
        // landed): a repeat's earlier request, or this call's own, is its answer if the key names one. Best effort:
        // the error stands when the key cannot be read either.
        const made = input.idempotencyKey === undefined ? undefined : await madeUnderKey(deps, claimantOf(write.request), input.idempotencyKey, input).catch(() => undefined);
        if (made) return made;
        throw e;
      }
      if (input.idempotencyKey !== undefined) {
        const made = await madeUnderKey(deps, claimantOf(write.request), input.idempotencyKey, input);
        if (made) return made;
      }
      // DynamoDB cancels a transaction that meets another in flight on one of its items (TransactionConflict): on
      // the key's claim (a concurrent run of the same intent, with no winner yet), or on the original an extension
      // checks (its revocation or expiry, another extension's check). Nothing was checked, so the same write goes
      // again after a moment and its conditions give the answer: the winner's claim, the original revoked, the id
      // taken, or none, and it commits as it would have had the other transaction ended a moment sooner.
      if (e instanceof StaleWriteError && e.why === 'contended' && attempt < CONTENDED_COMMIT_ATTEMPTS) {
        await new Promise((r) => setTimeout(r, 20 + Math.random() * 80));
        continue;
      }
      if (input.requestId === undefined) throw e;
      const made = await madeBefore(deps, write.request.id, write.request.requester);
      if (!made) throw e;
      return made;
    }
  }
}

/** Commits of a new request in all, while transactions in flight on its items keep cancelling it. */
const CONTENDED_COMMIT_ATTEMPTS = 5;
