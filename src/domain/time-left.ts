import { AsyncLocalStorage } from 'node:async_hooks';

/*
 * How long the work under way may still take, by two limits. A grant's
 * lease: an IAM change sent after it lapsed could land after another run
 * took the lease over (a revoke that deleted the role, say) and undo its
 * work. And the function's run (the worker, the sweeper, the reconciler): one
 * killed by its timeout mid-change leaves its lease held until it lapses.
 * The limits travel with the async call chain (AsyncLocalStorage), so the
 * AWS adapters read them without every call in between passing them on.
 */

interface Limits {
  lease?: () => number;
  run?: () => number;
}

const scope = new AsyncLocalStorage<Limits>();

/**
 * Runs `work` under a grant's lease with `left()` ms of it. It replaces an
 * enclosing lease's limit (each lease governs the work done under it;
 * rolegate does not nest leases) and keeps the run's.
 */
export function withLeaseTime<T>(left: () => number, work: () => Promise<T>): Promise<T> {
  return scope.run({ ...scope.getStore(), lease: left }, work);
}

/** Runs `work` with `left()` ms of the function's run for it. */
export function withRunTime<T>(left: () => number, work: () => Promise<T>): Promise<T> {
  return scope.run({ ...scope.getStore(), run: left }, work);
}

/** Milliseconds left to the work under way: the lesser of its limits; Infinity outside both. */
export function timeLeftMs(): number {
  const limits = scope.getStore();
  return Math.min(limits?.lease?.() ?? Infinity, limits?.run?.() ?? Infinity);
}
