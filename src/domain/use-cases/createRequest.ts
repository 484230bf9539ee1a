import { actedBy, audit } from '../audit';
import { ConflictError } from '../errors';
import type { AccessRequest, Actor } from '../model';
import type { RequestWrite } from '../ports';
import { principalFromCallerArn } from '../principal';
import { checkDuration, findAccount, findProfile, resolveGrantee, ruleFor } from '../rules';
import { accessEndFor } from './extendRequest';
import { addMinutes, announce, enqueueSafely, isoNow, type CoreDeps } from './context';

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
  /**
   * Set by a caller that may run again for the same intent (a Slack job the
   * stream delivers twice): the new request's id. A run that finds a request
   * of the same caller under it returns that request and makes none.
   */
  requestId?: string;
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
  const account = findAccount(deps.settings, input.account);
  const profile = findProfile(deps.settings, input.profile);
  const rule = ruleFor(deps.settings, caller, account, profile.name);
  const grantee = resolveGrantee(rule, caller, input.principalArn);
  checkDuration(deps.settings, rule, input.durationMinutes);

  const now = isoNow(deps.clock);
  const pending: AccessRequest = {
    id: input.requestId ?? deps.ids.next(),
    version: 1,
    status: 'PENDING',
    requester: caller.arn,
    ...(actor.person !== undefined ? { requesterPerson: actor.person } : {}),
    principalArn: grantee.arn,
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
    ...actedBy({ arn: caller.arn, person: actor.person }),
    comment: input.reason,
    data: { account: account.id, profile: profile.name, durationMinutes: input.durationMinutes, principal: grantee.arn },
  };

  if (rule.autoApprove) {
    const approved: AccessRequest = { ...pending, status: 'APPROVED', approvedAt: now, endsAt: await accessEndFor(deps.requests, pending, now, rule.maxDurationMinutes), provisioningAttempts: 0 };
    const autoApproved = audit.autoApproved(approved, { id: deps.ids.next(), at: now, actor: 'rolegate', data: { rule: rule.id }, notify: 'request.approved' });
    const earlier = await commitNew(
      deps,
      { request: approved, events: [audit.requested(pending, requested), autoApproved], ...(input.extendsRequestId ? { unlessRevoked: input.extendsRequestId } : {}) },
      input.requestId !== undefined,
    );
    if (earlier) return earlier;
    deps.metrics?.count('RequestCreated');
    deps.metrics?.count('RequestApproved');
    await enqueueSafely(deps, approved.id);
    await announce(deps, approved, autoApproved);
    return approved;
  }

  const created = audit.requested(pending, { ...requested, notify: 'request.created' });
  const earlier = await commitNew(deps, { request: pending, events: [created] }, input.requestId !== undefined);
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

/**
 * Commits a new request. With a caller-chosen id, a concurrent run of the
 * same intent may have committed first: its request is returned instead.
 */
async function commitNew(deps: CoreDeps, write: RequestWrite, chosenId: boolean): Promise<AccessRequest | undefined> {
  try {
    await deps.requests.commit(write);
    return undefined;
  } catch (e) {
    if (!chosenId || !(e instanceof ConflictError)) throw e;
    const made = await madeBefore(deps, write.request.id, write.request.requester);
    if (!made) throw e;
    return made;
  }
}
