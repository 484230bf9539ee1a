import type { Context } from 'aws-lambda';
import { randomUUID } from 'node:crypto';
import { atColdStart, bootLogger } from '../compose';
import { apiHandler } from './http/lambda';
import { errorResponse } from './http/errors';
import type { HttpEvent, HttpResult } from './http/types';

/** The HTTP API's handler for this cold start's app, built as the function loads. */
const ready = atColdStart(apiHandler);

/**
 * Lambda entry point of the HTTP API (API Gateway HTTP API, IAM or JWT
 * authorization), composed at cold start. While the app does not load (a
 * configuration that does not validate), every call answers 500 with a
 * correlation id, and the reason goes to the log under it.
 */
export async function handler(event: HttpEvent, context: Context): Promise<HttpResult> {
  let handle: Awaited<ReturnType<typeof ready>>;
  try {
    handle = await ready();
  } catch (e) {
    return errorResponse(e, event.requestContext?.requestId || randomUUID(), bootLogger());
  }
  return handle(event, context);
}
