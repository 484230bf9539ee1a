import type { Context } from 'aws-lambda';
import type { App } from '../../compose';
import { interactiveDeps, withinRun } from '../lease-waits';
import { httpApp } from './app';
import { identityOptionsFor } from './middlewares';
import { routes } from './routes';
import type { HttpEvent, HttpResult } from './types';

/**
 * The HTTP API's Lambda handler for a composed app: the middy chain inside
 * the invocation's time (a revoke's IAM calls run within its 29 s, under the
 * gateway's 30 s: none starts that could outlast it, so the function is never
 * killed mid-change with the grant's lease held until it lapses), and the
 * invocation's metrics written at its end. The entry point (api.ts) builds
 * it once per cold start; the benchmark builds it as deployed.
 */
export function apiHandler(app: App): (event: HttpEvent, context: Context) => Promise<HttpResult> {
  const deps = interactiveDeps(app.deps);
  const http = httpApp(routes, () => deps, app.logger, identityOptionsFor(app.deps.settings, app.env.localIdentity));
  return async (event, context) => {
    try {
      return await withinRun(() => context.getRemainingTimeInMillis(), () => http(event, context));
    } finally {
      app.flushMetrics();
    }
  };
}
