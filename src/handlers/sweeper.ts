import type { Context } from 'aws-lambda';
import { getApp } from '../compose';
import { sweep, type SweepReport } from '../domain/use-cases/sweep';

/** Every minute: expire due access, time out stale requests, re-drive stuck provisioning. */
export async function handler(_event: unknown, context: Context): Promise<SweepReport> {
  const app = getApp();
  // Leave room to finish the item in hand; the rest continues at the next tick.
  try {
    return await sweep(app.deps, { shouldStop: () => context.getRemainingTimeInMillis() < 20_000 });
  } finally {
    app.flushMetrics();
  }
}
