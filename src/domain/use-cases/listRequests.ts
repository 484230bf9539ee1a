import { ValidationError } from '../errors';
import type { AccessRequest, Actor, RequestStatus } from '../model';
import type { Page } from '../ports';
import { parsePrincipalArn, principalFromCallerArn, principalKey } from '../principal';
import { isApproverFor } from '../rules';
import { canView } from './getRequest';
import type { CoreDeps } from './context';

export interface ListRequestsInput {
  /** `mine` (default): requests I made; `awaiting`: pending requests I may still approve; `all`: every request I may see. */
  view: 'mine' | 'awaiting' | 'all';
  status?: RequestStatus;
  limit: number;
  cursor?: string;
}

const MAX_PAGES = 10;

/**
 * Lists requests newest first. Visibility is the same as for a single
 * request; filtered pages may hold fewer items than the limit, and the
 * cursor continues exactly after the last item read.
 */
export async function listRequests(deps: Pick<CoreDeps, 'requests' | 'settings'>, actor: Actor, input: ListRequestsInput): Promise<Page<AccessRequest>> {
  const caller = principalFromCallerArn(actor.arn);
  const me = principalKey(caller);
  // Refused, not ignored: a client asking for awaiting ACTIVE requests would otherwise read PENDING ones as those.
  if (input.view === 'awaiting' && input.status !== undefined && input.status !== 'PENDING') {
    throw new ValidationError('view=awaiting lists pending requests only: leave status out, or use view=all.', [
      { field: 'status', reason: `must be PENDING (or absent) with view=awaiting, not ${input.status}` },
    ]);
  }
  const query =
    input.view === 'mine'
      ? { requester: caller.arn, ...(input.status ? { status: input.status } : {}) }
      : { status: input.view === 'awaiting' ? ('PENDING' as const) : (input.status ?? ('PENDING' as const)) };

  const keep = (r: AccessRequest): boolean => {
    if (input.view === 'mine') return true;
    if (!canView(deps.settings, r, caller)) return false;
    if (input.view !== 'awaiting') return true;
    const rule = deps.settings.rules.find((x) => x.id === r.ruleId);
    return (
      rule !== undefined &&
      isApproverFor(rule, caller) &&
      principalKey(parsePrincipalArn(r.requester)) !== me &&
      principalKey(parsePrincipalArn(r.principalArn)) !== me &&
      !r.approvals.some((a) => principalKey(parsePrincipalArn(a)) === me)
    );
  };

  const items: AccessRequest[] = [];
  let cursor = input.cursor;
  for (let page = 0; page < MAX_PAGES && items.length < input.limit; page++) {
    const result = await deps.requests.list({ ...query, limit: input.limit - items.length, ...(cursor ? { cursor } : {}) });
    items.push(...result.items.filter(keep));
    cursor = result.cursor;
    if (!cursor) break;
  }
  return { items, ...(cursor ? { cursor } : {}) };
}
