import { ForbiddenError, NotFoundError } from '../errors';
import type { AccessRequest, Actor } from '../model';
import type { RequestDetail } from '../ports';
import { matchesAny, parsePrincipalArn, principalFromCallerArn, samePrincipal, type Principal } from '../principal';
import { approvesFor } from '../rules';
import type { Settings } from '../settings';
import type { CoreDeps } from './context';

/**
 * A request is visible to its requester, its grantee, the approvers of its
 * rule (or, its rule gone, those who may revoke it) and the responders; all
 * of them may revoke it. Without responders, a request auto-approved under a
 * rule with no approvers is within reach of its requester alone.
 */
export function canView(settings: Settings, request: AccessRequest, who: Principal): boolean {
  if (samePrincipal(who, parsePrincipalArn(request.requester)) || samePrincipal(who, parsePrincipalArn(request.principalArn))) return true;
  return matchesAny(who, settings.responders) || approvesFor(settings, request, who);
}

/**
 * Refuses (403) one who may not see the request, before anything of it is
 * weighed, in words that name nothing of it: its rule, whether that rule is
 * still configured, its state (the refusal names the caller as rolegate took
 * them, which tells a Slack user how their account maps). Those who see it
 * get the precise refusals.
 */
export function assertSees(settings: Settings, request: AccessRequest, who: Principal, refusal: string): void {
  if (!canView(settings, request, who)) throw new UnseenRequestError(refusal, `${who.arn} may not see request ${request.id} (rule "${request.ruleId}")`);
}

/** The refusal of one who may not see a request: the same answer whatever the request; `reason`, the cause, is for the log. */
export class UnseenRequestError extends ForbiddenError {
  constructor(
    message: string,
    readonly reason: string,
  ) {
    super(message);
  }
}

/** The request with its decisions and audit timeline (and access details once active); the events' sources in full for responders only. */
export async function getRequest(deps: Pick<CoreDeps, 'requests' | 'settings'>, actor: Actor, requestId: string): Promise<RequestDetail> {
  const caller = principalFromCallerArn(actor.arn);
  const detail = await deps.requests.getDetail(requestId);
  if (!detail) throw new NotFoundError(`Request ${requestId} does not exist.`);
  assertSees(deps.settings, detail.request, caller, 'Only the requester, the grantee, the approvers of its rule and the responders may see this request.');
  // Where each change came from (addresses, clients, sessions) is for the responders; others see how it came.
  if (matchesAny(caller, deps.settings.responders)) return detail;
  return { ...detail, events: detail.events.map((e) => (e.source ? { ...e, source: { via: e.source.via } } : e)) };
}
