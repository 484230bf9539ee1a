import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import type { Logger } from '../../domain/ports';
import { json } from './errors';
import { authenticate, correlation, httpErrors, jsonBody, routing, validateInput, type IdentityOptions, type RolegateContext } from './middlewares';
import type { RouteDef } from './route';
import type { HttpEvent, HttpResult } from './types';

/**
 * The HTTP API as one middy chain: correlation id, errors → HTTP, routing,
 * caller from the auth context, JSON body, validation, then one use-case.
 */
export type HttpHandler = (event: HttpEvent, context: Context) => Promise<HttpResult>;

export function httpApp<D>(routes: readonly RouteDef<D>[], deps: () => Promise<D> | D, logger: Logger, identity: IdentityOptions): HttpHandler {
  const chain = middy<HttpEvent, HttpResult, Error, RolegateContext>()
    .use(correlation(logger))
    .use(httpErrors(logger))
    .use(routing(routes as readonly RouteDef[]))
    .use(authenticate(identity))
    .use(jsonBody())
    .use(validateInput())
    .handler(async (_event, context) => {
      const route = context.route as RouteDef<D>;
      const result = await route.handle(await deps(), {
        actor: context.actor ?? { arn: 'anonymous', via: 'api' },
        params: context.params,
        body: context.body,
        query: context.query,
        ...(context.idempotencyKey !== undefined ? { idempotencyKey: context.idempotencyKey } : {}),
        correlationId: context.correlationId,
      });
      return json(route.status, result, context.correlationId, route.location ? { location: route.location(result) } : {});
    });
  // The middlewares keep the call's state (caller, route, body, Idempotency-Key) on the context: on one of its own,
  // which reads through to Lambda's, so nothing of one call outlives it on a context object the caller passes again.
  return (event, context) => chain(event, Object.create(context ?? {}) as RolegateContext);
}
