import { audit } from '../audit';
import { ConflictError, ForbiddenError, NotFoundError } from '../errors';
import type { AccessRequest, Actor } from '../model';
import { principalFromCallerArn } from '../principal';
import { isApproverFor, ruleById } from '../rules';
import { addMinutes, enqueueSafely, isoNow, withOptimisticRetry, type CoreDeps } from './context';

/**
 * An approver sends a FAILED request back to provisioning. The access gets
 * its full duration from now, since the failed attempt granted nothing.
 */
export async function retryRequest(deps: CoreDeps, actor: Actor, requestId: string, comment?: string): Promise<AccessRequest> {
  const caller = principalFromCallerArn(actor.arn);
  const next = await withOptimisticRetry(async () => {
    const current = await deps.requests.get(requestId);
    if (!current) throw new NotFoundError(`Request ${requestId} does not exist.`);
    if (!isApproverFor(ruleById(deps.settings, current.ruleId), caller)) {
      throw new ForbiddenError(`${caller.arn} is not an approver under rule "${current.ruleId}".`);
    }
    if (current.status !== 'FAILED') {
      throw new ConflictError(`Only a FAILED request can be retried; request ${current.id} is ${current.status}.`, [
        { field: 'status', reason: `is ${current.status}` },
      ]);
    }
    const now = isoNow(deps.clock);
    const approved: AccessRequest = {
      ...current,
      version: current.version + 1,
      status: 'APPROVED',
      updatedAt: now,
      approvedAt: now,
      endsAt: addMinutes(now, current.durationMinutes),
      provisioningAttempts: 0,
    };
    await deps.requests.commit({
      request: approved,
      expectedVersion: current.version,
      events: [audit.retryRequested(current, { id: deps.ids.next(), at: now, actor: caller.arn, ...(comment !== undefined ? { comment } : {}), data: { previousFailure: current.failure } })],
    });
    return approved;
  });
  await enqueueSafely(deps, next.id);
  return next;
}
