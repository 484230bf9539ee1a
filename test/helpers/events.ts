import type { Context } from 'aws-lambda';
import { randomUUID } from 'node:crypto';
import * as z from 'zod/mini';
import type { HttpEvent } from "../../src/handlers/http/types";
import type { HttpHandler } from "../../src/handlers/http/app";
import { routes } from '../../src/handlers/http/routes';
import { matchPath } from '../../src/handlers/http/middlewares';
import { RESPONSE_COMPONENTS } from '../../src/handlers/http/responses';
import { answeredCodes } from '../../src/handlers/http/openapi';

export interface EventInput {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  /** Caller ARN as API Gateway's IAM authorizer reports it; omit for an unsigned call. */
  caller?: string;
  body?: unknown;
  rawBody?: string;
  headers?: Record<string, string>;
  query?: Record<string, string>;
  /** The client as API Gateway reports it (its User-Agent header, and its address). */
  userAgent?: string;
  sourceIp?: string;
}

/**
 * An API Gateway HTTP API (payload 2.0) event as AWS delivers it with IAM
 * authorization: routeKey and pathParameters filled for a declared route.
 */
export function apiEvent(input: EventInput): HttpEvent {
  const route = routes.map((r) => ({ r, params: matchPath(r.path, input.path) })).find((m) => m.params && m.r.method === input.method);
  const body = input.rawBody ?? (input.body === undefined ? undefined : JSON.stringify(input.body));
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': input.userAgent ?? 'aws-cli/2.15',
    host: 'abc123.execute-api.eu-west-1.amazonaws.com',
    ...input.headers,
  };
  return {
    version: '2.0',
    routeKey: route ? `${route.r.method} ${route.r.path}` : '$default',
    rawPath: input.path,
    rawQueryString: new URLSearchParams(input.query ?? {}).toString(),
    headers,
    ...(input.query ? { queryStringParameters: input.query } : {}),
    ...(route && Object.keys(route.params!).length ? { pathParameters: route.params } : {}),
    requestContext: {
      accountId: '999999999999',
      apiId: 'abc123',
      domainName: 'abc123.execute-api.eu-west-1.amazonaws.com',
      domainPrefix: 'abc123',
      requestId: randomUUID(),
      routeKey: route ? `${route.r.method} ${route.r.path}` : '$default',
      stage: '$default',
      time: '02/Mar/2026:09:00:00 +0000',
      timeEpoch: 1772442000000,
      http: { method: input.method, path: input.path, protocol: 'HTTP/1.1', sourceIp: input.sourceIp ?? '203.0.113.7', userAgent: input.userAgent ?? 'aws-cli/2.15' },
      ...(input.caller
        ? { authorizer: { iam: { accessKey: 'ASIAEXAMPLE', accountId: input.caller.split(':')[4] ?? '', callerId: 'AIDAEXAMPLE', userArn: input.caller, userId: 'AIDAEXAMPLE' } } }
        : {}),
    },
    ...(body !== undefined ? { body } : {}),
    isBase64Encoded: false,
  } as unknown as HttpEvent;
}

export function lambdaContext(): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'rolegate-test-api',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:eu-west-1:999999999999:function:rolegate-test-api',
    memoryLimitInMB: '512',
    awsRequestId: randomUUID(),
    logGroupName: '/aws/lambda/rolegate-test-api',
    logStreamName: 'test',
    getRemainingTimeInMillis: () => 10_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

export interface Reply {
  status: number;
  body: any;
  headers: Record<string, string>;
}

/**
 * Calls the API as API Gateway would. A success body must match its route's
 * response schema exactly, an error's code be one the Error schema lists (the
 * OpenAPI document's): every test that calls the API also checks the
 * documented contract.
 */
export async function call(api: HttpHandler, input: EventInput): Promise<Reply> {
  const result = await api(apiEvent(input), lambdaContext());
  const body = result.body ? JSON.parse(result.body) : undefined;
  assertDocumented(input, result.statusCode, body);
  return { status: result.statusCode, body, headers: result.headers };
}

export function assertDocumented(input: Pick<EventInput, 'method' | 'path'>, status: number, body: unknown): void {
  // A route the deployed API does not have never reaches rolegate (API Gateway answers it): its local-only codes are not documented.
  const route = routes.find((r) => r.method === input.method && matchPath(r.path, input.path));
  if (!route) return;
  if (status >= 400) {
    const code = (body as { error?: unknown } | undefined)?.error;
    if (!answeredCodes().includes(code as string)) throw new Error(`${input.method} ${input.path} answered ${status} with error ${String(code)}, a code the Error schema does not list`);
    return;
  }
  const checked = z.safeParse(RESPONSE_COMPONENTS[route.response], body);
  if (!checked.success) {
    throw new Error(`${input.method} ${input.path} answered a body its documented response does not allow:\n${z.prettifyError(checked.error)}`);
  }
}
