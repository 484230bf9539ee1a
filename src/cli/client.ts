import { Sha256 } from '@aws-crypto/sha256-js';
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import { SignatureV4 } from '@smithy/signature-v4';

export interface ClientOptions {
  api: string;
  /** Local run only: the caller named by the x-rolegate-principal header instead of SigV4. */
  localPrincipal?: string;
  region?: string;
  /** Signing region when neither `region` nor an execute-api URL names one (AWS_REGION, AWS_DEFAULT_REGION). */
  defaultRegion?: string;
  profile?: string;
  /** An OIDC token (a stack deployed with auth=jwt), sent as `Authorization: Bearer` instead of SigV4. */
  bearerToken?: string;
  /** How long a call waits for its whole answer (default 30 s); shorter in tests. */
  timeoutMs?: number;
  /** Injected in tests. */
  fetch?: typeof fetch;
  credentials?: ConstructorParameters<typeof SignatureV4>[0]['credentials'];
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: { field?: string; reason: string }[],
    /** The answer's Retry-After, in seconds (delta-seconds or an HTTP date). */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

/** The API could not be reached at all (refused, DNS, TLS, reset). */
export class UnreachableError extends Error {}

/** No whole answer within the timeout: unlike an unreachable API, this one may have done what it was asked. */
export class TimedOutError extends Error {
  constructor(
    readonly method: string,
    message: string,
  ) {
    super(message);
  }
}

export interface CallOptions<T> {
  /** Sent, and signed, with the rest: an Idempotency-Key. */
  headers?: Record<string, string>;
  /** What a 2xx answer must be for the caller to read it; any other (`{}`, `null`, no body) is a BAD_RESPONSE, not a crash further on. */
  reply?: (body: unknown) => body is T;
}

/** The API's function stops at 29 s and API Gateway's HTTP API at 30 s: an answer not come by then is not coming. */
const TIMEOUT_MS = 30_000;

/**
 * Calls the rolegate HTTP API, signed with SigV4 from the standard AWS
 * credential chain, or with an OIDC bearer token, or (the local run) naming
 * the caller in the local identity header.
 */
export class RolegateClient {
  private readonly signer?: SignatureV4;
  private readonly doFetch: typeof fetch;
  constructor(private readonly options: ClientOptions) {
    this.doFetch = options.fetch ?? fetch;
    if (!options.localPrincipal && options.bearerToken === undefined) {
      const region = options.region ?? regionFromUrl(options.api) ?? options.defaultRegion ?? 'us-east-1';
      this.signer = new SignatureV4({
        service: 'execute-api',
        region,
        sha256: Sha256,
        credentials: options.credentials ?? fromNodeProviderChain(options.profile ? { profile: options.profile } : {}),
      });
    }
  }

  async send<T>(method: 'GET' | 'POST', path: string, body?: unknown, query?: Record<string, string | undefined>, { headers: extra = {}, reply }: CallOptions<T> = {}): Promise<T> {
    const url = new URL(path.replace(/^\//, ''), this.options.api.endsWith('/') ? this.options.api : `${this.options.api}/`);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, v);
    const text = body === undefined ? undefined : JSON.stringify(body);
    let headers: Record<string, string> = { host: url.host, accept: 'application/json', ...(text !== undefined ? { 'content-type': 'application/json' } : {}), ...extra };
    if (this.signer) {
      let signed;
      try {
        signed = await this.signer.sign({
          method,
          protocol: url.protocol,
          hostname: url.hostname,
          ...(url.port ? { port: Number(url.port) } : {}),
          path: url.pathname,
          query: Object.fromEntries(url.searchParams.entries()),
          headers,
          ...(text !== undefined ? { body: text } : {}),
        });
      } catch (e) {
        if ((e as Error).name !== 'CredentialsProviderError') throw e;
        const profile = this.options.profile ? ` for profile "${this.options.profile}"` : '';
        throw new Error(`No AWS credentials to sign the request with${profile} (${(e as Error).message}). Configure credentials as for the AWS CLI, or use --as <ARN> against the local run.`);
      }
      headers = signed.headers as Record<string, string>;
    } else if (this.options.localPrincipal) {
      headers['x-rolegate-principal'] = this.options.localPrincipal;
    } else {
      headers.authorization = `Bearer ${this.options.bearerToken!}`;
    }
    const timeoutMs = this.options.timeoutMs ?? TIMEOUT_MS;
    const deadline = AbortSignal.timeout(timeoutMs);
    const noAnswer = () => new TimedOutError(method, `No answer from the rolegate API at ${url.origin} within ${timeoutMs / 1000} s.`);
    let res: Response;
    try {
      // Never follow a redirect: fetch would resend the signed headers (the session token, a bearer token) to wherever it points.
      res = await this.doFetch(url, { method, headers, redirect: 'manual', signal: deadline, ...(text !== undefined ? { body: text } : {}) });
    } catch (e) {
      if (deadline.aborted) throw noAnswer();
      // fetch reports only "fetch failed"; the reason (refused, DNS, TLS) is its cause.
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      const why = cause?.code ?? cause?.message ?? (e as Error).message;
      throw new UnreachableError(`Cannot reach the rolegate API at ${url.origin} (${why}). Check --api or $ROLEGATE_API.`);
    }
    if (res.status >= 300 && res.status < 400) {
      const to = res.headers.get('location');
      // Its body unread would keep the connection, and so the process, alive until the call's timeout.
      await res.body?.cancel().catch(() => undefined);
      throw new ApiError(
        res.status,
        'REDIRECT_REFUSED',
        `The API at ${url.origin} answered ${res.status}${to ? ` pointing to ${to}` : ''}; the CLI never follows a redirect with signed credentials. Give the API's own URL in --api or $ROLEGATE_API.`,
      );
    }
    let raw: string;
    try {
      raw = await res.text();
    } catch (e) {
      if (deadline.aborted) throw noAnswer();
      // The connection dropped while the answer was on its way: as transient as not reaching the API at all.
      throw new UnreachableError(`The connection to the rolegate API at ${url.origin} broke while reading its answer (${(e as Error).message}).`);
    }
    let parsed: unknown;
    try {
      parsed = raw ? JSON.parse(raw) : undefined;
    } catch {
      throw new ApiError(res.status, 'BAD_RESPONSE', `The API answered ${res.status} with a body that is not JSON.`);
    }
    if (!res.ok) {
      const e = (parsed ?? {}) as { error?: string; message?: string; details?: unknown; correlationId?: string };
      // API Gateway's JWT authorizer answers a bad or expired token with a bare 401 "Unauthorized".
      const hint = res.status === 401 && this.options.bearerToken !== undefined ? ' (the OIDC token was refused: it may have expired; get a fresh one)' : '';
      // Every rolegate answer names its correlation id in a header; a failure on our side is worth quoting it.
      const correlationId = e.correlationId ?? (res.status >= 500 ? res.headers.get('x-correlation-id') : null);
      const message = `${e.message ?? res.statusText}${hint}${correlationId ? ` (correlation id ${correlationId})` : ''}`;
      if (e.details !== undefined && !isDetails(e.details)) throw new ApiError(res.status, 'BAD_RESPONSE', `The API answered ${res.status} with details that are not a list of reasons: ${message}`);
      throw new ApiError(res.status, e.error ?? 'HTTP_' + res.status, message, e.details, retryAfter(res.headers.get('retry-after')));
    }
    if (reply && !reply(parsed)) throw new ApiError(res.status, 'BAD_RESPONSE', `The API answered ${res.status} with ${raw ? 'a body that is not the answer the CLI expects' : 'no body'}.`);
    return parsed as T;
  }
}

/** A rolegate error's details: each a reason, for a field or for the whole call. */
function isDetails(value: unknown): value is { field?: string; reason: string }[] {
  return Array.isArray(value) && value.every((d) => typeof d === 'object' && d !== null && typeof d.reason === 'string' && (d.field === undefined || typeof d.field === 'string'));
}

/** Seconds from a Retry-After header: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function retryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null || !value.trim()) return undefined;
  if (/^\s*\d+\s*$/.test(value)) return Number(value);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - now) / 1000));
}

/** The region an `execute-api` URL names; undefined for a custom domain. */
export function regionFromUrl(api: string): string | undefined {
  return /execute-api\.([a-z0-9-]+)\.amazonaws\.com/.exec(api)?.[1];
}
