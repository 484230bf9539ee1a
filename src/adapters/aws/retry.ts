import { ProvisioningError } from '../../domain/errors';
import { timeLeftMs } from '../../domain/time-left';

/*
 * Retries for STS and IAM calls: throttling, 5xx, timeouts and network
 * errors are retried with exponential backoff and full jitter; anything else
 * fails at once. Either way the caller gets a ProvisioningError carrying the
 * AWS code, a reason a person can act on, and whether trying again later
 * may help.
 */

const THROTTLING = new Set(['Throttling', 'RequestLimitExceeded', 'TooManyRequests', 'RequestThrottled', 'SlowDown', 'PriorRequestNotComplete']);
const TRANSIENT = new Set([
  'ServiceFailure',
  'ServiceUnavailable',
  'InternalFailure',
  'InternalError',
  // IAM: "multiple requests to change this object were submitted simultaneously"; it clears by itself.
  'ConcurrentModification',
  // IAM: an entity deleted and recreated is briefly unmodifiable.
  'EntityTemporarilyUnmodifiable',
  'IDPCommunicationError',
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
  'NetworkingError',
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENOTFOUND',
]);

interface AwsLikeError {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  $retryable?: { throttling?: boolean };
}

/**
 * The AWS error code as the API documents it. SDK v3 names IAM's
 * `NoSuchEntity` error `NoSuchEntityException`, so the suffix is dropped;
 * Node's network errors carry theirs in `code`.
 */
export function awsCode(e: unknown): string {
  const err = e as AwsLikeError | undefined;
  const raw = err?.name && err.name !== 'Error' ? err.name : (err?.code ?? 'UnknownError');
  return raw.endsWith('Exception') && raw !== 'Exception' ? raw.slice(0, -'Exception'.length) : raw;
}

/** Throttling, 5xx, timeouts and network errors may succeed later unchanged. */
export function isTransient(e: unknown): boolean {
  const err = e as AwsLikeError | undefined;
  const code = awsCode(e);
  const status = err?.$metadata?.httpStatusCode ?? 0;
  const networkCode = err?.code && TRANSIENT.has(err.code);
  // An error that carries no AWS response at all (a socket hang-up, a lost answer) says nothing
  // permanent about the request: retry it within the attempt budget rather than fail at once.
  const noAnswer = e instanceof Error && err?.$metadata === undefined && code === "UnknownError";
  return THROTTLING.has(code) || TRANSIENT.has(code) || Boolean(networkCode) || status >= 500 || status === 429 || err?.$retryable !== undefined || noAnswer;
}

/** Plain-language reasons for the permanent errors an administrator has to act on. */
const PLAIN: Record<string, string> = {
  AccessDenied: 'rolegate is not allowed to do this in the target account: deploy or update the provisioner role from templates/provisioner-role.yaml',
  MalformedPolicyDocument: "IAM rejected a policy document as malformed: check the profile's policies",
  LimitExceeded: 'an IAM quota was reached (roles per account, managed policies per role, or policy size)',
  InvalidInput: 'IAM refused an input value',
  ValidationError: 'AWS refused an input value',
  PolicyNotAttachable: "a managed policy of the profile cannot be attached to a role (AWS service-linked policies cannot)",
  UnmodifiableEntity: 'the role is protected and cannot be changed',
  EntityAlreadyExists: 'a role with this name already exists',
  NoSuchEntity: "an IAM entity does not exist (a managed policy or permissions boundary named by the profile?)",
  DeleteConflict: 'the role still has policies or instance profiles attached',
  ExpiredToken: "rolegate's credentials expired",
  InvalidClientTokenId: "rolegate's credentials are not valid in this partition or region",
  RegionDisabled: 'STS is not enabled in this region for the account',
  PackedPolicyTooLarge: 'the session policy is too large',
};

/**
 * IAM refuses a trust naming a user or role it does not know (any more) as a
 * malformed document. A principal created moments before may not be known
 * yet (IAM is eventually consistent: a workload role made by the same
 * pipeline that asks for its access), so this refusal is tried again within
 * the step, at least a second more apart each time, before it stands.
 */
function isPrincipalUnknown(e: unknown): boolean {
  return awsCode(e) === 'MalformedPolicyDocument' && /invalid principal/i.test((e as AwsLikeError | undefined)?.message ?? '');
}

const PRINCIPAL_GONE =
  'IAM does not know the principal the trust policy names: the user or role was deleted, or its ARN is wrong (a role people sign in through, such as an IAM Identity Center role, needs its path in rolePaths)';

/**
 * Turns an AWS error into a ProvisioningError with its code and a reason a
 * person can act on; AWS's own text goes to awsMessage, for the log only.
 */
export function toProvisioningError(e: unknown, what: string, hints: Record<string, string> = {}, attempts = 1): ProvisioningError {
  if (e instanceof ProvisioningError) return e;
  const code = awsCode(e);
  const detail = (e as AwsLikeError | undefined)?.message ?? String(e);
  const transient = isTransient(e);
  const principalGone = isPrincipalUnknown(e) ? PRINCIPAL_GONE : undefined;
  const plain = hints[code] ?? principalGone ?? PLAIN[code] ?? (transient ? 'AWS did not answer successfully (throttling, a service error or the network); it will be retried' : 'AWS refused the call');
  const tries = attempts > 1 ? ` after ${attempts} attempts` : '';
  return new ProvisioningError(`${what} failed${tries}: ${plain} (${code})`, code, transient, 'PROVISIONING_FAILED', detail);
}

export interface RetryOptions {
  /** Attempts in all, the first included (default 5). */
  attempts?: number;
  /** First backoff ceiling in ms; doubles per attempt (default 200). */
  baseMs?: number;
  /** Ceiling of any one backoff in ms (default 5000). */
  maxMs?: number;
  /** Injected so tests run instantly. */
  sleep?: (ms: number) => Promise<void>;
  /** 0 ≤ x < 1; injected for deterministic jitter in tests. */
  random?: () => number;
}

export const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Full jitter: a uniform wait below an exponentially growing, capped ceiling. */
export function backoffMs(attempt: number, options: RetryOptions = {}): number {
  const ceiling = Math.min(options.maxMs ?? 5000, (options.baseMs ?? 200) * 2 ** (attempt - 1));
  return Math.floor((options.random ?? Math.random)() * ceiling);
}

/**
 * The longest one attempt may take: the SDK clients' connection (3 s) and
 * answer (10 s) timeouts (factory.ts), and a second to spare. No attempt
 * starts with less than this left of the work's time (its grant's lease,
 * its function's run).
 */
export const ATTEMPT_MAX_MS = 14_000;

/**
 * Runs `fn`, retrying transient failures with exponential backoff and full
 * jitter. A permanent error fails at once; the last transient one fails
 * with retryable=true, so the worker or the sweeper tries again later. No
 * attempt starts that could outlast the work's time (timeLeftMs: its
 * grant's lease, its function's run): that fails retryable too, with the
 * last error if any.
 */
export async function withRetry<T>(what: string, fn: () => Promise<T>, options: RetryOptions = {}, hints: Record<string, string> = {}): Promise<T> {
  const attempts = Math.max(1, options.attempts ?? 5);
  const sleep = options.sleep ?? defaultSleep;
  let last: unknown;
  for (let i = 1; ; i++) {
    if (timeLeftMs() < ATTEMPT_MAX_MS) {
      if (last !== undefined) {
        const error = toProvisioningError(last, what, hints, i - 1);
        // Cut short, the principal had not had its seconds to become known: not a verdict, so tried again later.
        throw isPrincipalUnknown(last) ? new ProvisioningError(error.message, error.awsCode, true, 'PROVISIONING_FAILED', error.awsMessage) : error;
      }
      throw new ProvisioningError(`${what} was not sent: too little time is left for it (of the grant's lease or of the function's run); it will be retried`, 'OutOfTime', true);
    }
    try {
      return await fn();
    } catch (e) {
      const unknownPrincipal = isPrincipalUnknown(e);
      if (e instanceof ProvisioningError || (!isTransient(e) && !unknownPrincipal) || i >= attempts) throw toProvisioningError(e, what, hints, i);
      last = e;
      await sleep(unknownPrincipal ? Math.max(backoffMs(i, options), 1000 * i) : backoffMs(i, options));
    }
  }
}
