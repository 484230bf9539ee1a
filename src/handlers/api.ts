import type { Context } from 'aws-lambda';
import { atColdStart } from '../compose';
import { apiHandler } from './http/lambda';
import type { HttpEvent, HttpResult } from './http/types';

/** The HTTP API's handler for this cold start's app, built as the function loads. */
const ready = atColdStart(apiHandler);

/** Lambda entry point of the HTTP API (API Gateway HTTP API, IAM or JWT authorization), composed at cold start. */
export async function handler(event: HttpEvent, context: Context): Promise<HttpResult> {
  return (await ready())(event, context);
}
