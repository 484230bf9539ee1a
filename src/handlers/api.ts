import type { Context } from 'aws-lambda';
import { getApp } from '../compose';
import { httpApp } from './http/app';
import { routes } from './http/routes';
import type { HttpEvent, HttpResult } from './http/types';

/** Lambda entry point of the HTTP API (API Gateway HTTP API, IAM authorization). */
const app = getApp();
const oidc = app.deps.settings.oidc;
const http = httpApp(routes, () => app.deps, app.logger, { localIdentity: app.env.localIdentity, ...(oidc ? { oidc: { claim: oidc.claim, principals: oidc.principals } } : {}) });

export async function handler(event: HttpEvent, context: Context): Promise<HttpResult> {
  try {
    return await http(event, context);
  } finally {
    app.flushMetrics();
  }
}
