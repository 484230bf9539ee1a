import { getApp } from '../compose';
import { reconcile, type Drift } from '../domain/use-cases/reconcile';

/** Every 15 minutes: compare the roles in each target account with the live grants. */
export async function handler(): Promise<{ drift: Drift[] }> {
  const app = getApp();
  try {
    return { drift: await reconcile(app.deps) };
  } finally {
    app.flushMetrics();
  }
}
