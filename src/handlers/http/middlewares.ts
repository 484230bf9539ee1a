import type middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { randomUUID } from 'node:crypto';
import type * as z from 'zod/mini';
import { issuesToDetails } from '../../domain/zod-locale';
import { ForbiddenError, MethodNotAllowedError, RolegateError, UnauthenticatedError, ValidationError } from '../../domain/errors';
import type { Actor, EventSource } from '../../domain/model';
import type { Logger } from '../../domain/ports';
import { callerIdentity, principalFromCallerArn, type RolePath } from '../../domain/principal';
import type { Settings } from '../../domain/settings';
import { asciiLowerCase } from '../../domain/text';
import { CORRELATION_ID_HEADER, errorResponse } from './errors';
import type { HttpEvent, HttpResult } from './types';
import type { RouteDef } from './route';
import { correlationId, idempotencyKey } from './schemas';

/** What the middlewares hand the route handler, on the Lambda context. */
export interface RolegateContext extends Context {
  correlationId: string;
  route: RouteDef;
  params: Record<string, string>;
  actor?: Actor;
  body?: unknown;
  query?: unknown;
  idempotencyKey?: string;
}

type Mw = middy.MiddlewareObj<HttpEvent, HttpResult, Error, RolegateContext>;

export const LOCAL_IDENTITY_HEADER = 'x-rolegate-principal';
export const MAX_BODY_BYTES = 16 * 1024;
export const IDEMPOTENCY_KEY_HEADER = 'Idempotency-Key';


function header(event: HttpEvent, name: string): string | undefined {
  const headers = event.headers ?? {};
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name);
  return key ? headers[key] : undefined;
}

/** Tags every log line and response with a correlation id (the caller's, if well-formed). */
export function correlation(logger?: Logger): Mw {
  return {
    before: (request) => {
      const given = header(request.event, CORRELATION_ID_HEADER);
      request.context.correlationId = given !== undefined && correlationId.safeParse(given).success ? given : request.event.requestContext?.requestId || randomUUID();
      logger?.setCorrelation?.({ correlationId: request.context.correlationId, awsRequestId: request.context.awsRequestId ?? '' });
    },
    after: () => logger?.setCorrelation?.(undefined),
    onError: () => logger?.setCorrelation?.(undefined),
  };
}

/** The one place that turns errors into HTTP responses. */
export function httpErrors(logger: Logger): Mw {
  return {
    onError: (request) => {
      const { actor, route, params } = request.context;
      const apiRequestId = request.event.requestContext?.requestId;
      // Where a refusal came from too: a probe (a run of 401s and 403s) is found by its address.
      const sourceIp = clientText(request.event.requestContext?.http?.sourceIp, 64);
      // And what it tried: the route (its template, not the path as sent) and the request it named.
      const requestId = clientText(params?.id, 64);
      const who = {
        ...(actor ? { caller: actor.arn, ...(actor.person !== undefined ? { person: actor.person } : {}) } : {}),
        ...(route ? { route: `${route.method} ${route.path}` } : {}),
        ...(requestId !== undefined ? { requestId } : {}),
        ...(apiRequestId ? { apiRequestId } : {}),
        ...(sourceIp !== undefined ? { sourceIp } : {}),
      };
      request.response = errorResponse(request.error, request.context.correlationId ?? randomUUID(), logger, who);
    },
  };
}

/** Finds the route for the event: by API Gateway's routeKey, or by method and path (local run). */
export function routing(routes: readonly RouteDef[]): Mw {
  return {
    before: (request) => {
      const event = request.event;
      const method = event.requestContext?.http?.method ?? '';
      const byKey = routes.find((r) => `${r.method} ${r.path}` === event.routeKey);
      if (byKey) {
        request.context.route = byKey;
        request.context.params = Object.fromEntries(Object.entries(event.pathParameters ?? {}).filter((e): e is [string, string] => e[1] !== undefined));
        return;
      }
      const path = event.rawPath ?? event.requestContext?.http?.path ?? '';
      const matches = routes.map((r) => ({ r, params: matchPath(r.path, path) })).filter((m) => m.params);
      const match = matches.find((m) => m.r.method === method);
      if (!match) {
        if (matches.length) throw new MethodNotAllowedError(`${method} is not allowed on ${path}.`, [...new Set(matches.map((m) => m.r.method))]);
        throw new RolegateError('ROUTE_NOT_FOUND', `No route ${method} ${path}.`);
      }
      request.context.route = match.r;
      request.context.params = match.params!;
    },
  };
}

export function matchPath(template: string, path: string): Record<string, string> | undefined {
  const t = template.split('/');
  const p = path.split('/');
  if (t.length !== p.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < t.length; i++) {
    const seg = t[i]!;
    const actual = p[i]!;
    if (seg.startsWith('{') && seg.endsWith('}')) {
      if (!actual) return undefined;
      try {
        params[seg.slice(1, -1)] = decodeURIComponent(actual);
      } catch {
        return undefined;
      }
    } else if (seg !== actual) return undefined;
  }
  return params;
}

export interface IdentityOptions {
  /** Honour the x-rolegate-principal header (local runs only; never in Lambda). */
  localIdentity: boolean;
  /** OIDC: the issuer and audiences tokens must carry, the verified claim that names the person, and its mapping to IAM principals. */
  oidc?: { issuer: string; audience: readonly string[]; claim: string; principals: Record<string, string>; persons?: Record<string, string> };
  /** Paths of the roles callers sign in through (settings.rolePaths). */
  rolePaths?: readonly RolePath[];
}

/** The identity options a deployment's configuration asks for. */
export function identityOptionsFor(settings: Settings, localIdentity: boolean): IdentityOptions {
  const { oidc, rolePaths } = settings;
  return { localIdentity, rolePaths, ...(oidc ? { oidc } : {}) };
}

/**
 * The caller, from the authenticated request context only: the IAM
 * authorizer's caller ARN (an assumed-role session counts as its role, under
 * its configured path; an Identity Center session also names its person) or
 * the OIDC claim's mapping (the claim names the person). A body, query or
 * header field never names the caller, except the local-run header, which a
 * deployed function ignores.
 */
export function authenticate(options: IdentityOptions): Mw {
  const mapOidc = options.oidc ? oidcMapper(options.oidc) : undefined;
  return {
    before: (request) => {
      if (request.context.route.public) return;
      const iamArn = request.event.requestContext?.authorizer?.iam?.userArn;
      const claims = request.event.requestContext?.authorizer?.jwt?.claims;
      let jwtArn: string | undefined;
      let jwtPerson: string | undefined;
      if (!iamArn && claims && options.oidc && mapOidc) {
        // API Gateway verified the token (signature, issuer, audience, expiry) against the stack's parameters;
        // rolegate checks issuer and audience again against its own configuration, so a stack deployed with
        // another identity provider's parameters cannot hand its tokens' claims to this mapping.
        checkTokenOrigin(claims, options.oidc);
        if (options.oidc.claim === 'email' && String(claims.email_verified) !== 'true') {
          throw new ForbiddenError('Your sign-in carries an email address its identity provider has not verified (email_verified); rolegate accepts only verified addresses.');
        }
        ({ arn: jwtArn, person: jwtPerson } = mapOidc(claims));
        if (!jwtArn) throw new ForbiddenError(`Your sign-in (${options.oidc.claim}) is not mapped to an AWS principal in rolegate's configuration (oidc.principals).`);
      }
      const localArn = options.localIdentity ? header(request.event, LOCAL_IDENTITY_HEADER) : undefined;
      const callerArn = iamArn ?? jwtArn ?? localArn;
      if (!callerArn) {
        throw new UnauthenticatedError(
          options.localIdentity
            ? `Name the caller with the ${LOCAL_IDENTITY_HEADER} header (local run).`
            : 'Sign the request with AWS SigV4 (IAM authorization).',
        );
      }
      try {
        // The person: the verified claim of a token (which names no session), or the Identity Center user behind a session.
        const who = jwtArn
          ? { arn: principalFromCallerArn(jwtArn, options.rolePaths).arn, ...(jwtPerson !== undefined ? { person: jwtPerson } : {}) }
          : callerIdentity(callerArn, options.rolePaths);
        request.context.actor = { ...who, via: 'api', source: sourceOf(request.event, callerArn === who.arn ? undefined : callerArn) };
      } catch (e) {
        // The local run's header is typed by hand: say what is wrong with it rather than guess at a root or federated user.
        if (callerArn === localArn && iamArn === undefined && jwtArn === undefined) {
          throw new ForbiddenError(`The ${LOCAL_IDENTITY_HEADER} header must name an IAM user or role, or an assumed-role session: ${(e as Error).message}`);
        }
        throw new ForbiddenError('Only IAM users and roles may use rolegate (not an account root or a federated user).');
      }
    },
  };
}

/** Printable ASCII, cut: a client's own words about itself go into the audit trail as a hint, never as markup or log lines. */
function clientText(value: string | undefined, max: number): string | undefined {
  const text = value?.replace(/[^\x20-\x7e]+/g, ' ').trim().slice(0, max);
  return text ? text : undefined;
}

/** Where the call came from, for the audit trail: API Gateway's view of it (the local server fills the same fields). */
function sourceOf(event: HttpEvent, session: string | undefined): EventSource {
  const http = event.requestContext?.http;
  const sourceIp = clientText(http?.sourceIp, 64);
  const userAgent = clientText(http?.userAgent ?? header(event, 'user-agent'), 200);
  const apiRequestId = clientText(event.requestContext?.requestId, 128);
  return {
    via: 'api',
    ...(session !== undefined ? { session } : {}),
    ...(sourceIp !== undefined ? { sourceIp } : {}),
    ...(userAgent !== undefined ? { userAgent } : {}),
    ...(apiRequestId !== undefined ? { apiRequestId } : {}),
  };
}

/** The values of a claim as API Gateway passes them: a string, or an array flattened to "[a b]". */
function claimValues(value: unknown): string[] {
  if (Array.isArray(value)) return value.map(String);
  if (typeof value !== 'string') return [];
  return (value.startsWith('[') && value.endsWith(']') ? value.slice(1, -1).split(' ') : [value]).filter(Boolean);
}

const withoutTrailingSlash = (url: string) => url.replace(/\/+$/, '');

/** Refuses a token from another issuer, or for none of the configured audiences (`aud`, or Cognito's `client_id`). */
function checkTokenOrigin(claims: Record<string, unknown>, oidc: NonNullable<IdentityOptions['oidc']>): void {
  const issuer = typeof claims.iss === 'string' ? claims.iss : '';
  if (withoutTrailingSlash(issuer) !== withoutTrailingSlash(oidc.issuer)) {
    throw new ForbiddenError(`Your sign-in token comes from another issuer than the one rolegate's configuration names (oidc.issuer).`);
  }
  // As API Gateway does: `aud` when the token has one, `client_id` only when it has none.
  const aud = claimValues(claims.aud);
  const audiences = aud.length > 0 ? aud : claimValues(claims.client_id);
  if (!audiences.some((a) => oidc.audience.includes(a))) {
    throw new ForbiddenError(`Your sign-in token is not meant for rolegate: its audience is none of those rolegate's configuration names (oidc.audience).`);
  }
}

/**
 * The principal a verified token's claim maps to, and the person: the name
 * oidc.persons gives that claim value (an Identity Center user name), else
 * the claim itself. Claims match exactly (a `sub` or a username may differ only in
 * case), except `email`, which matches whatever its case, as mail systems
 * do, and names the person in lower case. (An email claim counts only when
 * the token says the address was verified: see authenticate.)
 */
function oidcMapper(oidc: NonNullable<IdentityOptions['oidc']>): (claims: Record<string, unknown>) => { arn?: string; person?: string } {
  const isEmail = oidc.claim === 'email';
  const key = (subject: string) => (isEmail ? asciiLowerCase(subject) : subject);
  const principals = new Map(Object.entries(oidc.principals).map(([subject, arn]) => [key(subject), arn]));
  // As callerIdentity names an Identity Center person: its user name in lower case.
  const persons = new Map(Object.entries(oidc.persons ?? {}).map(([subject, person]) => [key(subject), person.toLowerCase()]));
  return (claims) => {
    const subject = claims[oidc.claim];
    if (typeof subject !== 'string') return {};
    const arn = principals.get(key(subject));
    return arn ? { arn, person: persons.get(key(subject)) ?? key(subject) } : {};
  };
}

const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });

/** Bytes as UTF-8 text, refused when they are not UTF-8 (Buffer's decoder would put U+FFFD in silently). */
function utf8(bytes: Uint8Array): string {
  try {
    return STRICT_UTF8.decode(bytes);
  } catch {
    throw new RolegateError('UNSUPPORTED_MEDIA_TYPE', 'Send the body as application/json in UTF-8: it holds bytes that are not UTF-8.');
  }
}

/**
 * Refuses an object with a key twice. JSON.parse keeps the last, a proxy, a
 * WAF or a log reader may keep the first: `{"account": "production",
 * "account": "staging"}` must not read as one account to rolegate and
 * another to them. Any JSON is YAML, and js-yaml refuses duplicate keys;
 * it reads the body only when some key appears twice in its text
 * (keysAllDistinct), and it loads then, not at cold start (the deployed API
 * parses no YAML otherwise). Then it fails closed: js-yaml refusing the text
 * for any other reason (it stops 100 levels deep, before a later duplicate)
 * refuses the body too. A body with no key twice is not refused for its
 * depth here: the route's schema refuses any nesting (no body rolegate takes
 * nests at all).
 */
async function refuseDuplicateKeys(text: string): Promise<void> {
  // js-yaml's parse costs every body about 0.04 ms; it is needed only where some key appears twice in the text.
  if (keysAllDistinct(text)) return;
  const { JSON_SCHEMA, load } = await import('js-yaml');
  try {
    load(text, { schema: JSON_SCHEMA });
  } catch (e) {
    const twice = e instanceof Error && /duplicated mapping key/.test(e.message);
    throw new RolegateError('INVALID_JSON', `The body is not valid JSON for rolegate: ${twice ? 'an object holds the same key twice' : 'it could not be checked for a key given twice (nested too deep?)'}.`);
  }
}

/** A JSON string token, and the colon that makes it a key: valid JSON holds no `"` outside its strings, so the tokens are found in order. */
const STRING_TOKEN = /("(?:[^"\\]|\\.)*")(\s*:)?/g;

/**
 * Whether no key of a valid JSON text appears twice anywhere in it, compared
 * as JSON reads them (`"a"` and `"\u0061"` are one key): then no object can
 * hold a key twice, at any depth. Otherwise js-yaml decides (keys may repeat
 * in different objects).
 */
function keysAllDistinct(text: string): boolean {
  const seen = new Set<string>();
  for (const [, string, colon] of text.matchAll(STRING_TOKEN)) {
    if (colon === undefined) continue;
    const key = JSON.parse(string!) as string;
    if (seen.has(key)) return false;
    seen.add(key);
  }
  return true;
}

/** Parses a JSON body: JSON content type, UTF-8, at most 16 KiB, an object, no key twice. */
export function jsonBody(maxBytes = MAX_BODY_BYTES): Mw {
  return {
    before: async (request) => {
      const { event, context } = request;
      const raw = event.body ?? '';
      if (!context.route.body) {
        // Refused, not ignored: GET /requests with {"view":"all"} in a body would list the caller's own requests.
        if (raw.trim() !== '') throw new ValidationError('This route takes no body: give its input in the query, or send none.', [{ field: '(body)', reason: 'this route takes no body' }]);
        return;
      }
      // A leading byte-order mark is no part of the JSON (RFC 8259 lets a parser ignore it).
      const text = (event.isBase64Encoded ? utf8(Buffer.from(raw, 'base64')) : raw).replace(/^\uFEFF/, '');
      if (Buffer.byteLength(text, 'utf8') > maxBytes) {
        throw new RolegateError('PAYLOAD_TOO_LARGE', `The body must be at most ${maxBytes} bytes.`);
      }
      if (text.trim() === '') {
        context.body = undefined;
        return;
      }
      const [type, ...parameters] = (header(event, 'content-type') ?? '').split(';').map((part) => part.trim().toLowerCase());
      if (type !== 'application/json') {
        throw new RolegateError('UNSUPPORTED_MEDIA_TYPE', 'Send the body as application/json.');
      }
      // The body is read as UTF-8, JSON's only encoding: another charset would be read wrong.
      const charset = parameters.find((p) => p.startsWith('charset='))?.slice('charset='.length).replace(/^"(.*)"$/, '$1');
      if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
        throw new RolegateError('UNSUPPORTED_MEDIA_TYPE', `Send the body as application/json in UTF-8, not ${charset}.`);
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch (e) {
        throw new RolegateError('INVALID_JSON', `The body is not valid JSON: ${(e as Error).message}`);
      }
      await refuseDuplicateKeys(text);
      // null is not "no body": every route's body is an object.
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
        throw new ValidationError('The body must be a JSON object.', [{ field: '(body)', reason: 'must be a JSON object' }]);
      }
      context.body = parsed;
    },
  };
}

function check<T>(schema: z.ZodMiniType<T> | undefined, value: unknown, what: string): T | undefined {
  if (!schema) return undefined;
  const result = schema.safeParse(value);
  if (!result.success) {
    const details = issuesToDetails(result.error.issues);
    throw new ValidationError(`The ${what} is not valid: ${details.map((d) => `${d.field} ${d.reason}`).join('; ')}.`, details);
  }
  return result.data;
}

/** The names that occur more than once in a raw query string, once each, in order. */
function repeatedQueryParameters(raw: string | undefined): string[] {
  if (!raw) return [];
  const seen = new Set<string>();
  const repeated = new Set<string>();
  for (const name of new URLSearchParams(raw).keys()) (seen.has(name) ? repeated : seen).add(name);
  return [...repeated];
}

/** Validates path parameters, query string and body against the route's schemas. */
export function validateInput(): Mw {
  return {
    before: (request) => {
      const { context, event } = request;
      const route = context.route;
      if (route.params) context.params = check(route.params, context.params, 'path') as Record<string, string>;
      // API Gateway joins a repeated parameter's values with commas and a local server might keep one: either way
      // `?view=all&view=mine` would be read as something the caller did not write. Refused, as a repeated body key is.
      const repeated = repeatedQueryParameters(event.rawQueryString);
      if (repeated.length) throw new ValidationError('Give each query parameter once.', repeated.map((k) => ({ field: k, reason: 'is given more than once' })));
      const query = Object.fromEntries(Object.entries(event.queryStringParameters ?? {}));
      if (route.query) context.query = check(route.query, query, 'query string');
      else if (Object.keys(query).length) throw new ValidationError('This route takes no query string.', Object.keys(query).map((k) => ({ field: k, reason: 'is not a known parameter' })));
      if (route.idempotent) {
        const key = header(event, IDEMPOTENCY_KEY_HEADER.toLowerCase());
        if (key !== undefined) {
          const parsed = idempotencyKey.safeParse(key);
          if (!parsed.success) {
            throw new ValidationError(`The ${IDEMPOTENCY_KEY_HEADER} header is not valid.`, [{ field: IDEMPOTENCY_KEY_HEADER, reason: parsed.error.issues[0]!.message }]);
          }
          context.idempotencyKey = parsed.data;
        }
      }
      if (route.body) {
        if (context.body === undefined && route.bodyRequired) throw new ValidationError('A JSON body is required.', [{ field: '(body)', reason: 'is missing' }]);
        context.body = check(route.body, context.body ?? {}, 'body');
      }
    },
  };
}
