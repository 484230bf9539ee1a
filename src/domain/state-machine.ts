import { ConflictError } from './errors';
import type { RequestStatus } from './model';

/** Allowed transitions; anything else is refused before any write (and again by the store's version condition). */
const TRANSITIONS: Record<RequestStatus, readonly RequestStatus[]> = {
  PENDING: ['PENDING', 'APPROVED', 'DENIED', 'CANCELLED', 'TIMED_OUT'],
  APPROVED: ['ACTIVE', 'FAILED', 'REVOKED', 'EXPIRED', 'APPROVED'],
  ACTIVE: ['ACTIVE', 'EXPIRED', 'REVOKED'],
  FAILED: ['FAILED', 'APPROVED', 'REVOKED'],
  DENIED: [],
  CANCELLED: [],
  TIMED_OUT: [],
  EXPIRED: [],
  REVOKED: [],
};

export const TERMINAL: readonly RequestStatus[] = ['DENIED', 'CANCELLED', 'TIMED_OUT', 'EXPIRED', 'REVOKED'];

export function canTransition(from: RequestStatus, to: RequestStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

/** Refuses a transition the state machine does not allow, with a message a person can act on. */
export function assertTransition(from: RequestStatus, to: RequestStatus, what: string): void {
  if (!canTransition(from, to)) {
    throw new ConflictError(`Cannot ${what}: the request is ${from}.`, [{ field: 'status', reason: `is ${from}` }]);
  }
}
