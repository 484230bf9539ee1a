import type { AccessRequest } from './model';

/**
 * One error tree for rolegate. Every error a caller may see carries a stable
 * code; the HTTP layer maps codes to status codes in one place
 * (src/handlers/http/errors.ts). Anything that is not a RolegateError is
 * treated as unexpected and becomes an opaque 500.
 */
export type ErrorCode =
  | 'VALIDATION_FAILED'
  | 'INVALID_JSON'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'ROUTE_NOT_FOUND'
  | 'METHOD_NOT_ALLOWED'
  | 'CONFLICT'
  | 'GRANT_BUSY'
  | 'CONFIG_INVALID'
  | 'PROVISIONING_FAILED';

export interface ErrorDetail {
  field?: string;
  reason: string;
}

export class RolegateError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: ErrorDetail[],
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** The cause a refusal carries for the log only, where its answer is the same for every cause (a Slack signature, a request the caller may not see). */
export function logReasonOf(e: unknown): string | undefined {
  const reason = e !== null && typeof e === 'object' ? (e as { reason?: unknown }).reason : undefined;
  return typeof reason === 'string' ? reason : undefined;
}

/** Codes whose message is for operators only: a broken configuration names parameters and files, and is our fault. */
export const OPAQUE_CODES: ReadonlySet<ErrorCode> = new Set(['CONFIG_INVALID']);

/** rolegate's own words about an error, where a person may read them: any other error's text stays in the log. */
export function messageForUsers(e: unknown): string | undefined {
  return e instanceof RolegateError && !OPAQUE_CODES.has(e.code) ? e.message : undefined;
}

/** A route that exists, asked with another method: the methods it takes go in the Allow header (RFC 9110). */
export class MethodNotAllowedError extends RolegateError {
  constructor(
    message: string,
    readonly allow: readonly string[],
  ) {
    super('METHOD_NOT_ALLOWED', message);
  }
}

export class ValidationError extends RolegateError {
  constructor(message: string, details?: ErrorDetail[]) {
    super('VALIDATION_FAILED', message, details);
  }
}

export class ForbiddenError extends RolegateError {
  constructor(message: string, details?: ErrorDetail[]) {
    super('FORBIDDEN', message, details);
  }
}

export class NotFoundError extends RolegateError {
  constructor(message: string) {
    super('NOT_FOUND', message);
  }
}

export class ConflictError extends RolegateError {
  constructor(message: string, details?: ErrorDetail[]) {
    super('CONFLICT', message, details);
  }
}

export class UnauthenticatedError extends RolegateError {
  constructor(message = 'The request carries no authenticated AWS principal.') {
    super('UNAUTHENTICATED', message);
  }
}

export class ConfigError extends RolegateError {
  constructor(message: string, details?: ErrorDetail[]) {
    super('CONFIG_INVALID', message, details);
  }
}

/**
 * A provisioning step failed. `awsCode` is the AWS error code when there is
 * one; `retryable` tells whether the same step may succeed later without a
 * change by an administrator (throttling, 5xx, a held lock).
 */
export class ProvisioningError extends RolegateError {
  constructor(
    message: string,
    readonly awsCode: string | undefined,
    readonly retryable: boolean,
    code: 'PROVISIONING_FAILED' | 'GRANT_BUSY' = 'PROVISIONING_FAILED',
    /**
     * AWS's own text of the error, for operators only: it names ARNs of
     * rolegate's roles and sessions, SCPs and policies, and the message
     * reaches requesters, approvers and webhooks. Logged (errorForLog).
     */
    readonly awsMessage?: string,
  ) {
    super(code, message);
  }
}

const writesBeforeError = new WeakMap<object, string[]>();

/** Notes, on the error a change to IAM threw, the writes it had sent before: they happened, and the audit trail lists them. */
export function noteWritesSent(e: unknown, commands: readonly string[]): void {
  if (commands.length > 0 && e !== null && typeof e === 'object') writesBeforeError.set(e, [...(writesBeforeError.get(e) ?? []), ...commands]);
}

/** The writes noted on an error by noteWritesSent (none when it was thrown before any). */
export function writesSentBefore(e: unknown): string[] {
  return (e !== null && typeof e === 'object' && writesBeforeError.get(e)) || [];
}

/**
 * What a person reads in place of an error that is not rolegate's own (an
 * SDK's text names rolegate's roles, sessions and table; a bug's, its code):
 * the sweeper logs it, under the request's id.
 */
export const IN_THE_SWEEPERS_LOG = "the sweeper's log holds it, under this request's id";

/** An error as a log line gives it: its message, and AWS's own text where only operators may read it. */
export function errorForLog(e: unknown): string {
  if (e instanceof ProvisioningError && e.awsMessage !== undefined) return `${e.message} [AWS: ${e.awsMessage}]`;
  return e instanceof Error ? e.message : String(e);
}

/**
 * Another change held a grant's lease for all the attempts: the work that
 * waited for it was not done and may be tried again (GRANT_BUSY: contention,
 * not a failure of AWS). The worker and the sweeper try again on their own;
 * a revoke says the caller must repeat it.
 */
export class GrantBusyError extends ProvisioningError {
  constructor(message: string) {
    super(message, 'GrantBusy', true, 'GRANT_BUSY');
  }
}

/**
 * A grant's lease stayed busy and the run stopped waiting because its time is
 * running out (LeaseOptions.keepWaiting): not a failure of the work, which the
 * next run takes up. A GrantBusyError, so every caller that handles a busy
 * grant handles it too.
 */
export class OutOfTimeError extends GrantBusyError {
  constructor(grantKey: string) {
    super(`Another change to grant ${grantKey} is in progress, and this run has no time left to wait for it; the next run takes it up.`);
  }
}

/** An extension of a revoked request: refused whether seen on reading or by the commit's condition. */
export function extendsRevokedError(requestId: string, originalId: string): ConflictError {
  return new ConflictError(`Request ${requestId} extends request ${originalId}, which was revoked; it can no longer be granted. Request access again if it is still needed.`, [
    { field: 'extendsRequestId', reason: 'was revoked' },
  ]);
}

/**
 * The store refused a write because the item changed since it was read
 * (optimistic concurrency). Use-cases re-read and decide again.
 */
export class StaleWriteError extends ConflictError {
  constructor(
    /**
     * `changed`: an item's version moved on since it was read. `contended`: another write held one of the items
     * at that moment (DynamoDB's TransactionConflict), so no condition was checked and the same write may yet go
     * through as it is; whether anything changed is not known.
     */
    readonly why: 'changed' | 'contended',
    message = 'The request changed while this decision was being recorded.',
    /**
     * `changed` on a request: the request as stored when DynamoDB refused the write (the item its failed
     * condition was checked against), as exact then as a consistent read. A retry may decide on it instead
     * of reading again. Absent when the store could not say (contended, or the item is gone).
     */
    readonly found?: AccessRequest,
  ) {
    super(message);
  }
}
