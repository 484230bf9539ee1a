import { RolegateError, ValidationError } from '../errors';
import type { AccessRequest, Actor, RequestStatus } from '../model';
import type { Page } from '../ports';
import { parsePrincipalArn, principalFromCallerArn, principalKey } from '../principal';
import { assertMayApproveRequest } from '../rules';
import { canView } from './getRequest';
import { isoNow, type CoreDeps } from './context';

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
export async function listRequests(deps: Pick<CoreDeps, 'requests' | 'settings' | 'clock'>, actor: Actor, input: ListRequestsInput): Promise<Page<AccessRequest>> {
  const caller = principalFromCallerArn(actor.arn);
  const me = principalKey(caller);
  const now = isoNow(deps.clock);
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
    // Only what an approval by the caller would not be refused for: the checks it runs on the request and the
    // configuration alone, then an approval already given (as this principal or, through another role, this person).
    const rule = deps.settings.rules.find((x) => x.id === r.ruleId);
    if (rule === undefined || refused(() => assertMayApproveRequest(deps.settings, rule, r, caller, actor.person))) return false;
    if (r.approvals.some((a) => principalKey(parsePrincipalArn(a)) === me)) return false;
    // Past its deadline it is timing out: an approval is refused (409).
    if (now >= r.decisionDeadline) return false;
    return actor.person === undefined || !(r.approverPersons ?? []).includes(actor.person);
  };

  const listing = listingOf(input);
  const items: AccessRequest[] = [];
  let cursor = input.cursor === undefined ? undefined : storeCursorOf(input.cursor, listing);
  for (let page = 0; page < MAX_PAGES && items.length < input.limit; page++) {
    const result = await deps.requests.list({ ...query, limit: input.limit - items.length, ...(cursor ? { cursor } : {}) });
    items.push(...result.items.filter(keep));
    cursor = result.cursor;
    if (!cursor) break;
  }
  return { items, ...(cursor ? { cursor: listingCursor(listing, cursor) } : {}) };
}

/** What a listing lists: its view and the status it filters by (`ANY`: none). */
function listingOf(input: Pick<ListRequestsInput, 'view' | 'status'>): string {
  const status = input.view === 'mine' ? (input.status ?? 'ANY') : input.view === 'awaiting' ? 'PENDING' : (input.status ?? 'PENDING');
  return `${input.view}.${status}`;
}

/**
 * A listing's cursor: the store's, behind the listing it continues. Two
 * listings may read one partition (`mine` with and without a status,
 * `awaiting` and `all` pending), and a cursor carried over to another
 * filter would go on from the middle of it, the newer matches skipped.
 */
export function listingCursor(listing: string, storeCursor: string): string {
  return `${listing}.${storeCursor}`;
}

function storeCursorOf(cursor: string, listing: string): string {
  const prefix = `${listing}.`;
  if (cursor.startsWith(prefix) && cursor.length > prefix.length) return cursor.slice(prefix.length);
  const from = /^(mine|awaiting|all)\.([A-Z_]+)\./.exec(cursor);
  throw new ValidationError('The cursor is not valid.', [
    {
      field: 'cursor',
      reason: from ? `continues another listing (view=${from[1]}, ${from[2] === 'ANY' ? 'any status' : `status=${from[2]}`}): give its view and status, or start without a cursor` : 'is not a cursor this listing returned',
    },
  ]);
}

/** Whether a check refuses (a refusal is a RolegateError; anything else is a fault and is thrown on). */
function refused(check: () => void): boolean {
  try {
    check();
    return false;
  } catch (e) {
    if (e instanceof RolegateError) return true;
    throw e;
  }
}
