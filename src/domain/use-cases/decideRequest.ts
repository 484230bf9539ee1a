import { audit } from '../audit';
import { ConflictError, NotFoundError } from '../errors';
import type { AccessRequest, Actor, AuditEvent, Decision, DecisionKind } from '../model';
import { principalFromCallerArn, principalKey, parsePrincipalArn } from '../principal';
import { assertMayDecide, ruleById } from '../rules';
import { accessEndFor } from './extendRequest';
import { announce, enqueueSafely, isoNow, withOptimisticRetry, type CoreDeps } from './context';

export interface DecideInput {
  requestId: string;
  decision: DecisionKind;
  comment?: string;
}

/**
 * Records an approver's decision. An eligible approver (never the requester
 * or grantee) counts once; the request is APPROVED when the rule's number of
 * distinct approvals is reached, and DENIED by any single deny.
 */
export async function decideRequest(deps: CoreDeps, actor: Actor, input: DecideInput): Promise<AccessRequest> {
  const approver = principalFromCallerArn(actor.arn);
  const result = await withOptimisticRetry(async () => {
    const current = await deps.requests.get(input.requestId);
    if (!current) throw new NotFoundError(`Request ${input.requestId} does not exist.`);
    const rule = ruleById(deps.settings, current.ruleId);
    assertMayDecide(rule, current, approver);
    if (current.status !== 'PENDING') {
      throw new ConflictError(`Request ${current.id} is no longer pending: it is ${current.status}.`, [
        { field: 'status', reason: `is ${current.status}` },
      ]);
    }
    const mine = principalKey(approver);
    if (current.approvals.some((a) => principalKey(parsePrincipalArn(a)) === mine)) {
      throw new ConflictError(`${approver.arn} has already approved request ${current.id}.`);
    }
    const now = isoNow(deps.clock);
    // Past its deadline a request is timing out (the sweeper runs every minute): too late to approve.
    if (input.decision === 'APPROVE' && now >= current.decisionDeadline) {
      throw new ConflictError(`Request ${current.id} passed its decision deadline (${current.decisionDeadline}); it is timing out. Ask the requester to request again.`, [
        { field: 'decisionDeadline', reason: 'has passed' },
      ]);
    }

    const decision: Decision = {
      requestId: current.id,
      approver: approver.arn,
      decision: input.decision,
      at: now,
      via: actor.via === 'slack' ? 'slack' : 'api',
      ...(input.comment !== undefined ? { comment: input.comment } : {}),
    };
    const base = { ...current, version: current.version + 1, updatedAt: now };
    const eventInput = { id: deps.ids.next(), at: now, actor: approver.arn, ...(input.comment !== undefined ? { comment: input.comment } : {}) };

    let next: AccessRequest;
    let event: AuditEvent;
    if (input.decision === 'DENY') {
      next = { ...base, status: 'DENIED', endedAt: now };
      event = audit.denied(next, { ...eventInput, notify: 'request.denied' });
    } else {
      const approvals = [...current.approvals, approver.arn];
      const tally = { approvals: approvals.length, required: current.approvalsRequired };
      if (approvals.length >= current.approvalsRequired) {
        next = { ...base, approvals, status: 'APPROVED', approvedAt: now, endsAt: await accessEndFor(deps.requests, current, now, rule.maxDurationMinutes), provisioningAttempts: 0 };
        event = audit.approved(next, { ...eventInput, data: tally, notify: 'request.approved' });
      } else {
        next = { ...base, approvals };
        event = audit.approvalRecorded(next, { ...eventInput, data: tally, notify: 'request.approval_recorded' });
      }
    }
    const granting = next.status === 'APPROVED' && current.extendsRequestId !== undefined;
    await deps.requests.commit({ request: next, expectedVersion: current.version, decision, events: [event], ...(granting ? { unlessRevoked: current.extendsRequestId } : {}) });
    return { next, event };
  });

  const { next, event } = result;
  deps.metrics?.count(next.status === 'DENIED' ? 'RequestDenied' : next.status === 'APPROVED' ? 'RequestApproved' : 'ApprovalRecorded');
  if (next.status === 'APPROVED') await enqueueSafely(deps, next.id);
  await announce(deps, next, event);
  return next;
}
