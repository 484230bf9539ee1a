import * as z from 'zod/mini';
import type { ErrorCode } from '../../domain/errors';
import { OPAQUE_CODES } from '../../domain/errors';
import { IDEMPOTENCY_HOURS } from '../../domain/ports';
import { CORRELATION_ID_HEADER, INTERNAL, LOCAL_ONLY_CODES, STATUS_BY_CODE } from './errors';
import { IDEMPOTENCY_KEY_HEADER } from './middlewares';
import type { RouteDef } from './route';
import { RESPONSE_COMPONENTS } from './responses';
import { correlationId, idempotencyKey } from './schemas';

/*
 * The OpenAPI 3.1 document, generated from the same route table and zod
 * schemas the handlers validate with. `npm run openapi` writes openapi.json;
 * a test keeps the committed file, the routes and serverless.yml in step.
 * The API serves that file (GET /openapi.json): this module runs in the
 * script and the tests, never in a function.
 */

type Json = Record<string, unknown>;

function schemaOf(schema: z.ZodMiniType, io: 'input' | 'output' = 'input'): Json {
  const out = z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'draft-2020-12' }) as Json;
  delete out.$schema;
  return out;
}

const ref = (kind: 'schemas' | 'headers' | 'parameters', name: string): Json => ({ $ref: `#/components/${kind}/${name}` });

/**
 * Every `error` a deployed rolegate answers with: the codes errors.ts maps to a status, less those it
 * answers as an opaque 500 and those only the local server answers, and the opaque 500's own.
 */
export function answeredCodes(): string[] {
  const codes = (Object.keys(STATUS_BY_CODE) as ErrorCode[]).filter((code) => !OPAQUE_CODES.has(code) && !LOCAL_ONLY_CODES.has(code));
  return [...codes, INTERNAL];
}

const errorSchema = (): Json => ({
  type: 'object',
  required: ['error', 'message'],
  properties: {
    // An enum, so a client can switch over the codes; one it does not list is a bug of ours.
    error: { type: 'string', enum: answeredCodes(), description: 'Stable error code' },
    message: { type: 'string' },
    details: { type: 'array', items: { type: 'object', properties: { field: { type: 'string' }, reason: { type: 'string' } }, required: ['reason'] } },
    correlationId: { type: 'string', description: `With ${INTERNAL} only: quote it when you report the failure` },
  },
});

const gatewayErrorSchema: Json = {
  type: 'object',
  required: ['message'],
  properties: { message: { type: 'string', examples: ['Forbidden', 'Unauthorized', 'Not Found', 'Too Many Requests', 'Service Unavailable', 'Internal Server Error'] } },
  description: "API Gateway's own answer to a call it refuses, or cannot hand to rolegate or get an answer for: rolegate did not answer, so there is no error code and no correlation id",
};

const CORRELATION_ID =
  "rolegate's id for this call, on every log line it wrote for it: the caller's x-correlation-id when well-formed, otherwise API Gateway's request id. Quote it when you report a problem.";

/** The correlation id: on every answer of rolegate's, never on API Gateway's own. */
const HEADERS: Record<string, Json> = {
  CorrelationId: { description: CORRELATION_ID, required: true, schema: { type: 'string' } },
  CorrelationIdUnlessGateway: { description: `${CORRELATION_ID} Absent when API Gateway answered itself.`, required: false, schema: { type: 'string' } },
};

const PARAMETERS: Record<string, Json> = {
  CorrelationId: {
    name: CORRELATION_ID_HEADER,
    in: 'header',
    required: false,
    description:
      "Your own id for this call (a UUID fits): rolegate answers with it in the x-correlation-id header and writes it on its log lines. A value of another form is ignored, not refused: the reply then carries API Gateway's request id.",
    schema: schemaOf(correlationId),
  },
};

/** The success bodies as named components; they refer to each other by $ref. */
function responseComponents(): Record<string, Json> {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(RESPONSE_COMPONENTS)) registry.add(schema, { id });
  const { schemas } = z.toJSONSchema(registry, { uri: (id) => `#/components/schemas/${id}`, io: 'output', unrepresentable: 'any', target: 'draft-2020-12' }) as { schemas: Record<string, Json> };
  for (const schema of Object.values(schemas)) {
    delete schema.$schema;
    delete schema.$id;
  }
  return schemas;
}

const correlated: Json = { [CORRELATION_ID_HEADER]: ref('headers', 'CorrelationId') };

function successResponse(route: RouteDef<unknown>): Json {
  return {
    description: route.status === 201 ? 'Created' : 'Success',
    headers: {
      ...(route.location ? { Location: { description: 'The path of the request made (GET it for its decisions and timeline)', schema: { type: 'string' } } } : {}),
      ...correlated,
    },
    content: { 'application/json': { schema: ref('schemas', route.response) } },
  };
}

const errorResponse = (description: string): Json => ({ description, headers: correlated, content: { 'application/json': { schema: ref('schemas', 'Error') } } });
/** A status API Gateway may answer itself, before or instead of rolegate: its body is `{"message"}`, not rolegate's Error. */
const gatewayOrErrorResponse = (description: string): Json => ({
  description,
  headers: { [CORRELATION_ID_HEADER]: ref('headers', 'CorrelationIdUnlessGateway') },
  content: { 'application/json': { schema: { anyOf: [ref('schemas', 'Error'), ref('schemas', 'GatewayError')] } } },
});
/** A status only API Gateway answers, on any route: rolegate never ran, or its answer never came. */
const gatewayResponse = (description: string): Json => ({ description, content: { 'application/json': { schema: ref('schemas', 'GatewayError') } } });
const ERRORS: Record<string, Json> = {
  '400': errorResponse('Invalid input (the details name each bad field)'),
  '401': gatewayOrErrorResponse('No authenticated caller: with auth=jwt, API Gateway answers a missing or invalid token itself ({"message": "Unauthorized"})'),
  '403': gatewayOrErrorResponse('Not allowed (FORBIDDEN); with auth=iam, API Gateway answers a missing or bad SigV4 signature itself ({"message": "Forbidden"})'),
  '404': errorResponse('No request has this id (one that exists but the caller may not see is a 403)'),
  '409': errorResponse("Conflicts with the request's current state (CONFLICT)"),
  '413': errorResponse('Body larger than 16 KiB'),
  '415': errorResponse('Body is not application/json'),
  '500': gatewayOrErrorResponse(
    `Unexpected error (${INTERNAL}: opaque, with a correlation id); or rolegate's function failed (crashed or ran out of time) and API Gateway answered itself ({"message": "Internal Server Error"})`,
  ),
  '502': errorResponse('AWS (STS or IAM) refused or failed the change, or a revocation could not yet end an extension (PROVISIONING_FAILED): access may still be in place; repeat the call'),
};

/**
 * What API Gateway itself may answer on every route, besides the 401/403 of its authorizers and the 500 of a
 * failed function. An HTTP API answers a function that has not answered within its 30 s with 503, not a
 * REST API's 504; a route or method it does not have, with 404 Not Found (not an operation of this document).
 */
const GATEWAY_ERRORS: Record<string, Json> = {
  '429': gatewayResponse('Too many calls: API Gateway throttled this one before rolegate ran ({"message": "Too Many Requests"}); repeat it after a pause'),
  '503': gatewayResponse(
    `rolegate did not answer within API Gateway's 30 s ({"message": "Service Unavailable"}): the call may still have done its work, so read before repeating a change (a creation repeated with its ${IDEMPOTENCY_KEY_HEADER} makes nothing twice)`,
  ),
};

/** The error statuses a route can answer: those its shape implies and those its use-case declares (checked by the HTTP fuzzing suite). */
export function errorStatuses(route: RouteDef<unknown>): string[] {
  const statuses = [
    // Every route refuses a query parameter it does not know, and a body where it takes none.
    '400',
    ...(route.public ? [] : ['401', '403']),
    ...(route.params ? ['404'] : []),
    ...(route.body ? ['413', '415'] : []),
    '500',
    ...(route.outcomes ?? []).map(String),
  ];
  return [...new Set(statuses)].sort();
}

/** What a route's query parameters mean, where their schema does not say it (here, not in the routes: only the document needs it). */
const QUERY_DESCRIPTIONS: Record<string, Record<string, string>> = {
  'GET /requests': {
    view: "mine: the caller's requests; awaiting: pending requests the caller may approve now; all: every request the caller may see, in one status",
    status: 'With mine: only this status (default any). With all: this status (default PENDING). With awaiting: PENDING or absent (another is a 400).',
    limit: 'Most items in the page; a page may hold fewer, even none, and still have a cursor',
    cursor: 'From the previous page of the same listing (same view and status; another is a 400); absent for the first page',
  },
};

/** A status's description, where a route means something of its own by it. */
function errorFor(route: RouteDef<unknown>, status: string): Json {
  if (status === '404' && !route.params) return errorResponse('No account or profile of the name the body gives (NOT_FOUND)');
  if (status === '409' && route.idempotent) {
    return errorResponse(`Conflicts with the request's current state (CONFLICT), or the ${IDEMPOTENCY_KEY_HEADER} was used for another request (CONFLICT, naming the header)`);
  }
  if (status === '409' && route.outcomes?.includes(502)) {
    const response = errorResponse("Conflicts with the request's current state (CONFLICT), or another change to the same grant held it past the wait (GRANT_BUSY: the request is not revoked; repeat after Retry-After)");
    return { ...response, headers: { ...(response.headers as Json), 'Retry-After': { description: 'Seconds to wait before repeating (GRANT_BUSY only)', schema: { type: 'integer' } } } };
  }
  return ERRORS[status]!;
}

/** The method and path in camelCase, letters and digits only (`GET /openapi.json`: getOpenapiJson), a name every generator can give a function. */
function operationId(route: RouteDef): string {
  const words = route.path
    .split('/')
    .flatMap((segment) => (segment.startsWith('{') ? ['ById'] : segment.split(/[^A-Za-z0-9]+/)))
    .filter(Boolean)
    .map((word) => word[0]!.toUpperCase() + word.slice(1));
  return route.method.toLowerCase() + words.join('');
}

export function openApiDocument(routes: readonly RouteDef<unknown>[], version: string): Json {
  const paths: Record<string, Json> = {};
  for (const route of routes) {
    const parameters: Json[] = [];
    if (route.params) {
      const shape = schemaOf(route.params) as { properties?: Record<string, Json> };
      for (const [name, schema] of Object.entries(shape.properties ?? {})) parameters.push({ name, in: 'path', required: true, schema });
    }
    if (route.idempotent) {
      parameters.push({
        name: IDEMPOTENCY_KEY_HEADER,
        in: 'header',
        required: false,
        description: `A key for this one intent (a UUID): a repeat with the same key within ${IDEMPOTENCY_HOURS} hours (after a timeout) answers with the request the first call made, as it is now, and makes none; the same key for another request is a 409.`,
        schema: schemaOf(idempotencyKey),
      });
    }
    if (route.query) {
      // A query value arrives as text; its schema is the value it stands for (limit: an integer), its requiredness the caller's.
      const sent = schemaOf(route.query) as { required?: string[] };
      const meant = schemaOf(route.query, 'output') as { properties?: Record<string, Json> };
      const described = QUERY_DESCRIPTIONS[`${route.method} ${route.path}`] ?? {};
      for (const [name, schema] of Object.entries(meant.properties ?? {})) {
        parameters.push({ name, in: 'query', required: sent.required?.includes(name) ?? false, ...(described[name] ? { description: described[name] } : {}), schema });
      }
    }
    parameters.push(ref('parameters', 'CorrelationId'));
    const op: Json = {
      operationId: operationId(route),
      summary: route.summary,
      ...(route.public ? { security: [] } : {}),
      parameters,
      ...(route.body
        ? { requestBody: { required: route.bodyRequired ?? false, content: { 'application/json': { schema: schemaOf(route.body) } } } }
        : {}),
      responses: {
        [String(route.status)]: successResponse(route),
        ...Object.fromEntries(errorStatuses(route).map((status) => [status, errorFor(route, status)])),
        ...GATEWAY_ERRORS,
      },
    };
    paths[route.path] = { ...(paths[route.path] ?? {}), [route.method.toLowerCase()]: op };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'rolegate',
      version,
      description:
        'Self-service, time-boxed access to other AWS accounts. Every route but /health and /openapi.json needs a caller: signed with AWS SigV4 (API Gateway IAM authorization, the default) or, in a stack deployed with auth=jwt, an OIDC bearer token. A deployment accepts one of the two. A route or method this document does not name is answered by API Gateway itself: 404 {"message": "Not Found"}.',
    },
    components: {
      schemas: { ...responseComponents(), Error: errorSchema(), GatewayError: gatewayErrorSchema },
      headers: HEADERS,
      parameters: PARAMETERS,
      securitySchemes: {
        sigv4: { type: 'apiKey', name: 'Authorization', in: 'header', description: 'AWS Signature Version 4 (execute-api), for a stack deployed with auth=iam' },
        oidc: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: "An OIDC token from the configured issuer, for a stack deployed with auth=jwt" },
      },
    },
    security: [{ sigv4: [] }, { oidc: [] }],
    paths,
  };
}
