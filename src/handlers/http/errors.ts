import type { ErrorCode } from '../../domain/errors';
import { errorForLog, logReasonOf, MethodNotAllowedError, OPAQUE_CODES, RolegateError } from '../../domain/errors';
import type { Logger } from '../../domain/ports';
import type { HttpResult } from './types';

/** The one place where error codes become HTTP status codes. */
export const STATUS_BY_CODE: Record<ErrorCode, number> = {
  VALIDATION_FAILED: 400,
  INVALID_JSON: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  ROUTE_NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  CONFLICT: 409,
  // Another change to the same grant holds its lease (a busy grant is contention, not a failure of AWS):
  // the work did not happen (a revoke's message says what did), repeat in a few seconds; never a 502 that pages the on-call.
  GRANT_BUSY: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  CONFIG_INVALID: 500,
  PROVISIONING_FAILED: 502,
};

/** The code of the opaque 500 that answers anything unexpected (its details go to the log only). */
export const INTERNAL = 'INTERNAL';

/**
 * Codes only the local server (`npm start`) answers. Deployed, API Gateway sends rolegate only the
 * routes serverless.yml declares and answers any other route or method itself, 404 {"message":"Not Found"}.
 */
export const LOCAL_ONLY_CODES: ReadonlySet<ErrorCode> = new Set(['ROUTE_NOT_FOUND', 'METHOD_NOT_ALLOWED']);

/** The header that ties a reply to rolegate's log lines: the caller's own id when well-formed (middlewares.ts, correlation). */
export const CORRELATION_ID_HEADER = 'x-correlation-id';

/** Headers a code's responses carry: a busy grant says when to try again. */
const HEADERS_BY_CODE: Partial<Record<ErrorCode, Record<string, string>>> = { GRANT_BUSY: { 'retry-after': '5' } };

export function json(statusCode: number, body: unknown, correlationId: string, extra: Record<string, string> = {}): HttpResult {
  return {
    statusCode,
    headers: {
      'content-type': 'application/json; charset=utf-8',
      [CORRELATION_ID_HEADER]: correlationId,
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      ...extra,
    },
    body: JSON.stringify(body),
  };
}

/**
 * A known error becomes `{error, message, details?}` with its status code;
 * anything else an opaque 500 that names only the correlation id, while the
 * details go to the log, with who asked and at what (`who`: the caller, where
 * known, the route and the request it named, API Gateway's own request id,
 * which the caller cannot choose as it can the correlation id, and the
 * address): a refusal is the trace a probe leaves.
 */
export function errorResponse(error: unknown, correlationId: string, logger: Logger, who: Record<string, string> = {}): HttpResult {
  if (error instanceof RolegateError && !OPAQUE_CODES.has(error.code)) {
    const { code } = error;
    const status = STATUS_BY_CODE[code];
    if (status >= 500) logger.error('request failed', { code, error: errorForLog(error), correlationId, ...who });
    else {
      // A refusal whose answer is the same for every cause (a Slack signature, a request the caller may not see) carries the cause for the log only.
      const reason = logReasonOf(error);
      logger.info('request refused', { code, status, ...(reason !== undefined ? { reason } : {}), correlationId, ...who });
    }
    const headers = { ...HEADERS_BY_CODE[code], ...(error instanceof MethodNotAllowedError ? { allow: error.allow.join(', ') } : {}) };
    return json(status, { error: code, message: error.message, ...(error.details?.length ? { details: error.details } : {}) }, correlationId, headers);
  }
  logger.error('unexpected error', {
    correlationId,
    ...who,
    error: error instanceof Error ? { name: error.name, message: error.message, stack: error.stack } : String(error),
  });
  return json(500, { error: INTERNAL, message: 'Something went wrong on our side. Quote the correlation id when you report it.', correlationId }, correlationId);
}

