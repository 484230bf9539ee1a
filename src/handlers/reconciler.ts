import { getApp } from '../compose';
import { reconcile, type Drift } from '../domain/use-cases/reconcile';
import { invocation, type InvocationContext } from './lease-waits';

/**
 * No grant or role is taken up with less than this left of the function's
 * 300 s: one check may wait for a busy lease (~18 s) and make a dozen IAM
 * calls, each retried, and one cut off mid-repair leaves its lease held.
 */
export const RECONCILER_RESERVE_MS = 90_000;

/** Every 15 minutes: compare the roles in each target account with the live grants. */
export async function handler(_event: unknown, context: InvocationContext): Promise<{ drift: Drift[] }> {
  const app = await getApp();
  return invocation({ logger: app.deps.logger, flushMetrics: app.flushMetrics }, context, async () => ({
    drift: await reconcile(app.deps, { inTime: () => context.getRemainingTimeInMillis() > RECONCILER_RESERVE_MS }),
  }));
}
