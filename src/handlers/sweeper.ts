import type { Context } from 'aws-lambda';
import { getApp, type App } from '../compose';
import { sweep, type SweepReport } from '../domain/use-cases/sweep';
import { invocation, leaseWaitsWithin, type InvocationContext } from './lease-waits';

/**
 * Time arithmetic (timeout 120 s): no new item starts with SWEEPER_STOP_MS or
 * less left, and waiting for a busy grant's lease (up to ~27 s otherwise)
 * ends with SWEEPER_WORK_MS left, which the item's IAM and STS calls and its
 * commit get to themselves. An item is never cut off by the timeout (which
 * would fail the invocation and leave its lease held until it lapses); what
 * is left continues at the next tick.
 */
export const SWEEPER_STOP_MS = 45_000;
export const SWEEPER_WORK_MS = 35_000;

/** Every minute: expire due access, time out stale requests, re-drive stuck provisioning. */
export async function handler(_event: unknown, context: Context): Promise<SweepReport> {
  return runSweep(await getApp(), context);
}

export async function runSweep(app: Pick<App, 'deps' | 'flushMetrics'>, context: InvocationContext): Promise<SweepReport> {
  const remaining = () => context.getRemainingTimeInMillis();
  return invocation({ logger: app.deps.logger, flushMetrics: app.flushMetrics }, context, () =>
    sweep(leaseWaitsWithin(app.deps, remaining, SWEEPER_WORK_MS), { shouldStop: () => remaining() <= SWEEPER_STOP_MS }),
  );
}
