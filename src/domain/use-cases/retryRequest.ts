import { actedBy, audit, eventActor } from '../audit';
import { ConflictError, ForbiddenError, NotFoundError } from '../errors';
import type { AccessRequest, Actor } from '../model';
import { parsePrincipalArn, principalFromCallerArn, samePrincipal } from '../principal';
import { assertApprovalStands, assertMayDecide, assertNotGrantRole, assertStillPersonal, isApproverFor, notThePerson, ruleById } from '../rules';
import { countedApprovals } from './decideRequest';
import { accessEndFor } from './extendRequest';
import { assertSees } from './getRequest';
import { announce, enqueueSafely, isoNow, withOptimisticRetry, type CoreDeps } from './context';

/**
 * An approver (or, under an auto-approving rule, the requester) sends a
 * FAILED request back to provisioning. The access gets its full duration from
 * now, since the failed attempt granted nothing (an extension: from its live
 * original's end), within the rule's current maximum.
 */
export async function retryRequest(deps: CoreDeps, actor: Actor, requestId: string, comment?: string): Promise<AccessRequest> {
  const caller = principalFromCallerArn(actor.arn);
  const next = await withOptimisticRetry(async () => {
    const current = await deps.requests.get(requestId);
    if (!current) throw new NotFoundError(`Request ${requestId} does not exist.`);
    // A retry approves the access afresh: under a rule that needs approval, the same people as an
    // approval (never the requester or grantee); under an auto-approving rule, the requester too.
    assertSees(deps.settings, current, caller, `${caller.arn} may not retry this request: only an approver under its rule (or, under a rule that approves by itself, its requester) may.`);
    const rule = ruleById(deps.settings, current.ruleId);
    if (!rule.autoApprove) assertMayDecide(rule, current, caller, actor.person);
    else if (!isApproverFor(rule, caller)) {
      if (!samePrincipal(caller, parsePrincipalArn(current.requester))) {
        throw new ForbiddenError(`Only the requester or an approver under rule "${rule.id}" may retry request ${current.id}.`);
      }
      const notThem = notThePerson(current, actor, 'retry');
      if (notThem) throw notThem;
    }
    // The access is approved afresh, so under the rule as it is now, never by a frozen principal nor one of rolegate's grant roles.
    assertApprovalStands(deps.settings, rule, current, caller);
    assertNotGrantRole(deps.settings, caller, 'decide on a request');
    if (current.status !== 'FAILED') {
      throw new ConflictError(`Only a FAILED request can be retried; request ${current.id} is ${current.status}.`, [
        { field: 'status', reason: `is ${current.status}` },
      ]);
    }
    assertStillPersonal(deps.settings, current);
    // ...and with the approvals the rule counts now, as an approval would. Short of the number, a new
    // request asks for them.
    let counted: Pick<AccessRequest, 'approvals' | 'approvalsRequired' | 'approverPersons'> | undefined;
    if (!rule.autoApprove) {
      const { kept, keptPersons, required } = await countedApprovals(deps, rule, current);
      if (kept.length < required) {
        throw new ConflictError(
          `Rule "${rule.id}" now needs ${required} approval(s) from its current approvers, and request ${current.id} has ${kept.length}: a retry cannot approve it afresh. Make a new request.`,
          [{ field: 'approvals', reason: `has ${kept.length} of the ${required} the rule now needs` }],
        );
      }
      counted = { approvals: kept, approvalsRequired: required, ...(keptPersons !== undefined ? { approverPersons: keptPersons } : {}) };
    }
    const now = isoNow(deps.clock);
    // As an approval sets it: an extension starts where its live original ends (and never
    // follows a revoked one), within the rule's current maximum from now.
    const endsAt = await accessEndFor(deps.requests, current, now, rule.maxDurationMinutes);
    const approved: AccessRequest = {
      ...current,
      version: current.version + 1,
      status: 'APPROVED',
      updatedAt: now,
      approvedAt: now,
      endsAt,
      provisioningAttempts: 0,
      ...counted,
    };
    // Announced as an approval: receivers, and the Slack approval message, see the request leave FAILED.
    const event = audit.retryRequested(current, {
      id: deps.ids.next(),
      at: now,
      ...actedBy(eventActor(caller.arn, actor)),
      ...(comment !== undefined ? { comment } : {}),
      data: { previousFailure: current.failure },
      notify: 'request.approved',
    });
    await deps.requests.commit({
      request: approved,
      expectedVersion: current.version,
      events: [event],
      ...(current.extendsRequestId ? { unlessRevoked: current.extendsRequestId } : {}),
    });
    return { request: approved, event };
  });
  await announce(deps, next.request, next.event);
  await enqueueSafely(deps, next.request.id);
  return next.request;
}
