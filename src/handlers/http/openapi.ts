import * as z from 'zod/mini';
import type { RouteDef } from './route';

/*
 * The OpenAPI 3.1 document, generated from the same route table and zod
 * schemas the handlers validate with. `npm run openapi` writes openapi.json;
 * a test keeps the committed file, the routes and serverless.yml in step.
 */

type Json = Record<string, unknown>;

function schemaOf(schema: z.ZodMiniType, io: 'input' | 'output' = 'input'): Json {
  const out = z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'draft-2020-12' }) as Json;
  delete out.$schema;
  return out;
}

const errorSchema: Json = {
  type: 'object',
  required: ['error', 'message'],
  properties: {
    error: { type: 'string', description: 'Stable error code', examples: ['VALIDATION_FAILED', 'FORBIDDEN', 'CONFLICT'] },
    message: { type: 'string' },
    details: { type: 'array', items: { type: 'object', properties: { field: { type: 'string' }, reason: { type: 'string' } }, required: ['reason'] } },
    correlationId: { type: 'string' },
  },
};

const errorResponses: Json = {
  '400': { description: 'Invalid input', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
  '401': { description: 'No authenticated caller', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
  '403': { description: 'Not allowed', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
  '404': { description: 'Not found', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
  '409': { description: 'Conflicts with the current state', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
  '413': { description: 'Body larger than 16 KiB', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
  '415': { description: 'Body is not application/json', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
  '500': { description: 'Unexpected error (opaque, with a correlation id)', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
};

function operationId(route: RouteDef): string {
  const words = route.path
    .split('/')
    .filter(Boolean)
    .map((w) => (w.startsWith('{') ? 'ById' : w[0]!.toUpperCase() + w.slice(1)));
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
    if (route.query) {
      const shape = schemaOf(route.query) as { properties?: Record<string, Json>; required?: string[] };
      for (const [name, schema] of Object.entries(shape.properties ?? {})) {
        parameters.push({ name, in: 'query', required: shape.required?.includes(name) ?? false, schema });
      }
    }
    const op: Json = {
      operationId: operationId(route),
      summary: route.summary,
      ...(route.public ? { security: [] } : {}),
      ...(parameters.length ? { parameters } : {}),
      ...(route.body
        ? { requestBody: { required: route.bodyRequired ?? false, content: { 'application/json': { schema: schemaOf(route.body) } } } }
        : {}),
      responses: {
        [String(route.status)]: { description: 'Success', content: { 'application/json': { schema: { type: 'object' } } } },
        ...errorResponses,
      },
    };
    paths[route.path] = { ...(paths[route.path] ?? {}), [route.method.toLowerCase()]: op };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'rolegate',
      version,
      description: 'Self-service, time-boxed access to other AWS accounts. Every route but /health and /openapi.json is signed with AWS SigV4 (API Gateway IAM authorization).',
    },
    components: {
      schemas: { Error: errorSchema },
      securitySchemes: { sigv4: { type: 'apiKey', name: 'Authorization', in: 'header', description: 'AWS Signature Version 4 (execute-api)' } },
    },
    security: [{ sigv4: [] }],
    paths,
  };
}
