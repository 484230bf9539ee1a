import { actedBy, audit, eventActor } from '../audit';
import { ConflictError, ForbiddenError, NotFoundError } from '../errors';
import type { AccessRequest, Actor, EventActor } from '../model';
import { parsePrincipalArn, principalFromCallerArn, samePrincipal } from '../principal';
import { announce, isoNow, withOptimisticRetry, type CoreDeps } from './context';

/** Only the requester may cancel, and only while the request is pending. */
export async function cancelRequest(deps: CoreDeps, actor: Actor, requestId: string): Promise<AccessRequest> {
  const caller = principalFromCallerArn(actor.arn);
  return closePending(deps, requestId, eventActor(caller.arn, actor), (current) => {
    if (!samePrincipal(caller, parsePrincipalArn(current.requester))) {
      throw new ForbiddenError('Only the requester may cancel a request.');
    }
  });
}

/**
 * Cancels a pending extension because the request it extends was revoked:
 * approving it later would give back the access just taken away.
 */
export async function cancelOrphanedExtension(deps: CoreDeps, requestId: string, by: EventActor, revokedId: string): Promise<AccessRequest> {
  return closePending(deps, requestId, by, () => undefined, `Cancelled: request ${revokedId}, which it extends, was revoked.`);
}

async function closePending(
  deps: CoreDeps,
  requestId: string,
  by: EventActor,
  authorize: (current: AccessRequest) => void,
  comment?: string,
): Promise<AccessRequest> {
  const { next, event } = await withOptimisticRetry(async () => {
    const current = await deps.requests.get(requestId);
    if (!current) throw new NotFoundError(`Request ${requestId} does not exist.`);
    authorize(current);
    if (current.status !== 'PENDING') {
      throw new ConflictError(`Request ${current.id} can no longer be cancelled: it is ${current.status}.`, [
        { field: 'status', reason: `is ${current.status}` },
      ]);
    }
    const now = isoNow(deps.clock);
    const updated: AccessRequest = { ...current, version: current.version + 1, status: 'CANCELLED', updatedAt: now, endedAt: now };
    const cancelled = audit.cancelled(updated, { id: deps.ids.next(), at: now, ...actedBy(by), ...(comment !== undefined ? { comment } : {}), notify: 'request.cancelled' });
    await deps.requests.commit({ request: updated, expectedVersion: current.version, events: [cancelled] });
    return { next: updated, event: cancelled };
  });
  await announce(deps, next, event);
  return next;
}
