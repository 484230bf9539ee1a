import { ProvisioningError } from '../../domain/errors';

const THROTTLING = new Set(['Throttling', 'RequestLimitExceeded', 'TooManyRequests', 'RequestThrottled', 'SlowDown']);
const TRANSIENT = new Set(['ServiceFailure', 'ServiceUnavailable', 'InternalFailure', 'InternalError', 'TimeoutError', 'RequestTimeout', 'NetworkingError', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ECONNREFUSED', 'EAI_AGAIN']);

interface AwsLikeError {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

/**
 * The AWS error code as the API documents it: SDK v3 names IAM's
 * `NoSuchEntity` error `NoSuchEntityException`, so the suffix is dropped.
 */
export function awsCode(e: unknown): string {
  const err = e as AwsLikeError;
  const raw = err?.name && err.name !== 'Error' ? err.name : (err?.code ?? 'UnknownError');
  return raw.endsWith('Exception') && raw !== 'Exception' ? raw.slice(0, -'Exception'.length) : raw;
}

/** Throttling, 5xx, timeouts and network errors may succeed later unchanged. */
export function isTransient(e: unknown): boolean {
  const code = awsCode(e);
  const status = (e as AwsLikeError)?.$metadata?.httpStatusCode ?? 0;
  return THROTTLING.has(code) || TRANSIENT.has(code) || status >= 500 || status === 429;
}

const PLAIN: Record<string, string> = {
  AccessDenied: 'rolegate is not allowed to do this in the target account: deploy or update the provisioner role from templates/provisioner-role.yaml',
  MalformedPolicyDocument: 'IAM rejected a policy document as malformed: check the profile\'s policies',
  LimitExceeded: 'an IAM quota was reached in the target account (roles, policies per role or policy size)',
  InvalidInput: 'IAM refused an input value',
  PolicyNotAttachable: 'a managed policy of the profile cannot be attached to a role',
  UnmodifiableEntity: 'the role is protected and cannot be changed',
  EntityAlreadyExists: 'a role with this name already exists',
  NoSuchEntity: 'an IAM entity named by the profile does not exist (a managed policy or boundary ARN?)',
  ExpiredToken: 'rolegate\'s own credentials expired',
  RegionDisabled: 'STS is disabled in this region for the target account',
};

/** Turns an AWS error into a ProvisioningError with its code and a reason a person can act on. */
export function toProvisioningError(e: unknown, what: string): ProvisioningError {
  if (e instanceof ProvisioningError) return e;
  const code = awsCode(e);
  const detail = (e as AwsLikeError)?.message ?? String(e);
  const plain = PLAIN[code] ?? 'AWS refused the call';
  return new ProvisioningError(`${what} failed: ${plain} (${code}: ${detail})`, code, isTransient(e));
}

export interface RetryOptions {
  attempts?: number;
  baseMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

export const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Retries transient failures with exponential backoff and full jitter; a
 * permanent error, or the last transient one, becomes a ProvisioningError.
 */
export async function withRetry<T>(what: string, fn: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const attempts = options.attempts ?? 5;
  const base = options.baseMs ?? 200;
  const sleep = options.sleep ?? defaultSleep;
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (e) {
      if (!isTransient(e) || i >= attempts) throw toProvisioningError(e, what);
      await sleep(Math.random() * base * 2 ** (i - 1));
    }
  }
}
