import { monotonicFactory } from 'ulid';
import type { Clock, Ids } from '../domain/ports';

export const systemClock: Clock = { now: () => new Date() };

/** ULIDs: unique, and ordered by time even within one millisecond. */
export function ulidIds(): Ids {
  const next = monotonicFactory();
  return { next: () => next() };
}
