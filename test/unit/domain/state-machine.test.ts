import { ConflictError } from '../../../src/domain/errors';
import { REQUEST_STATUSES, type RequestStatus } from '../../../src/domain/model';
import { assertTransition, canTransition, TERMINAL } from '../../../src/domain/state-machine';

/*
 * The request state machine as README "How it works" documents it:
 * PENDING → APPROVED → ACTIVE → EXPIRED | REVOKED; PENDING → DENIED |
 * CANCELLED | TIMED_OUT; APPROVED → FAILED → APPROVED (a retry);
 * APPROVED → REVOKED | EXPIRED; FAILED → REVOKED. A status that is not
 * final may also be written again as itself (an approval recorded while
 * more are needed keeps a request PENDING). Every other transition is
 * refused, so a FAILED request, which holds nothing in IAM, never becomes
 * ACTIVE without being approved and provisioned again.
 */

const DOCUMENTED: Record<RequestStatus, readonly RequestStatus[]> = {
  PENDING: ['PENDING', 'APPROVED', 'DENIED', 'CANCELLED', 'TIMED_OUT'],
  APPROVED: ['APPROVED', 'ACTIVE', 'FAILED', 'REVOKED', 'EXPIRED'],
  ACTIVE: ['ACTIVE', 'EXPIRED', 'REVOKED'],
  FAILED: ['FAILED', 'APPROVED', 'REVOKED'],
  DENIED: [],
  CANCELLED: [],
  TIMED_OUT: [],
  EXPIRED: [],
  REVOKED: [],
};

it.each(REQUEST_STATUSES.map((from) => [from, DOCUMENTED[from]] as const))('from %s allows exactly %j', (from, allowed) => {
  expect(REQUEST_STATUSES.filter((to) => canTransition(from, to)).sort()).toEqual([...allowed].sort());
});

it('counts as final exactly the statuses with no way out', () => {
  expect([...TERMINAL].sort()).toEqual(REQUEST_STATUSES.filter((s) => DOCUMENTED[s].length === 0).sort());
});

it('refuses a transition it does not allow with a conflict (409) that names the status, and lets an allowed one pass', () => {
  expect(() => assertTransition('FAILED', 'REVOKED', 'revoke it')).not.toThrow();
  const refusal = (() => {
    try {
      assertTransition('EXPIRED', 'REVOKED', 'revoke it');
    } catch (e) {
      return e;
    }
  })();
  expect(refusal).toBeInstanceOf(ConflictError);
  expect(refusal).toMatchObject({ message: 'Cannot revoke it: the request is EXPIRED.', details: [{ field: 'status', reason: 'is EXPIRED' }] });
});
