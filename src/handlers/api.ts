import type { Context } from 'aws-lambda';
import { getApp } from '../compose';
import { httpApp } from './http/app';
import { identityOptionsFor } from './http/middlewares';
import { routes } from './http/routes';
import { interactiveDeps, withinRun } from './lease-waits';
import type { HttpEvent, HttpResult } from './http/types';

/**
 * Lambda entry point of the HTTP API (API Gateway HTTP API, IAM authorization).
 * A revoke's IAM calls run within the invocation (29 s, under the gateway's
 * 30 s): none starts that could outlast it, so the function is never killed
 * mid-change with the grant's lease held until it lapses.
 */
const app = getApp();
const deps = interactiveDeps(app.deps);
const http = httpApp(routes, () => deps, app.logger, identityOptionsFor(app.deps.settings, app.env.localIdentity));

export async function handler(event: HttpEvent, context: Context): Promise<HttpResult> {
  try {
    return await withinRun(() => context.getRemainingTimeInMillis(), () => http(event, context));
  } finally {
    app.flushMetrics();
  }
}
