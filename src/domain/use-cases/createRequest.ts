import { audit } from '../audit';
import type { AccessRequest, Actor } from '../model';
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
}

/**
 * Records a request for access. The caller comes from the authenticated
 * context; the rule that covers caller, account and profile decides the
 * maximum duration, the approvers and whether it is approved at once.
 */
export async function createRequest(deps: CoreDeps, actor: Actor, input: CreateRequestInput): Promise<AccessRequest> {
  const caller = principalFromCallerArn(actor.arn);
  const account = findAccount(deps.settings, input.account);
  const profile = findProfile(deps.settings, input.profile);
  const rule = ruleFor(deps.settings, caller, account, profile.name);
  const grantee = resolveGrantee(rule, caller, input.principalArn);
  checkDuration(deps.settings, rule, input.durationMinutes);

  const now = isoNow(deps.clock);
  const pending: AccessRequest = {
    id: deps.ids.next(),
    version: 1,
    status: 'PENDING',
    requester: caller.arn,
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
    actor: caller.arn,
    comment: input.reason,
    data: { account: account.id, profile: profile.name, durationMinutes: input.durationMinutes, principal: grantee.arn },
  };

  if (rule.autoApprove) {
    const approved: AccessRequest = { ...pending, status: 'APPROVED', approvedAt: now, endsAt: await accessEndFor(deps.requests, pending, now, rule.maxDurationMinutes), provisioningAttempts: 0 };
    const autoApproved = audit.autoApproved(approved, { id: deps.ids.next(), at: now, actor: 'rolegate', data: { rule: rule.id }, notify: 'request.approved' });
    await deps.requests.commit({ request: approved, events: [audit.requested(pending, requested), autoApproved], ...(input.extendsRequestId ? { unlessRevoked: input.extendsRequestId } : {}) });
    deps.metrics?.count('RequestCreated');
    deps.metrics?.count('RequestApproved');
    await enqueueSafely(deps, approved.id);
    await announce(deps, approved, autoApproved);
    return approved;
  }

  const created = audit.requested(pending, { ...requested, notify: 'request.created' });
  await deps.requests.commit({ request: pending, events: [created] });
  deps.metrics?.count('RequestCreated');
  await announce(deps, pending, created);
  return pending;
}
