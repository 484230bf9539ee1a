import { AsyncLocalStorage } from 'node:async_hooks';

/*
 * How long the work under way may still take. A grant's lease sets it: an
 * IAM change sent after the lease lapsed could land after another run took
 * the lease over (a revoke that deleted the role, say) and undo its work.
 * The scope travels with the async call chain (AsyncLocalStorage), so the
 * AWS adapters read it without every call in between passing it on.
 */

const scope = new AsyncLocalStorage<() => number>();

/**
 * Runs `work` with `left()` ms for it. An inner scope replaces an outer one:
 * each lease governs the work done under it (rolegate does not nest leases;
 * a test that runs "another process" inside a stalled one does).
 */
export function withTimeLeft<T>(left: () => number, work: () => Promise<T>): Promise<T> {
  return scope.run(left, work);
}

/** Milliseconds left to the work under way; Infinity outside any scope. */
export function timeLeftMs(): number {
  return scope.getStore()?.() ?? Infinity;
}
