import { isUtf8 } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { HttpEvent } from '../handlers/http/types';

/** Raised when a local request body passes the read limit. */
export class BodyTooLargeError extends Error {}

/**
 * A Node HTTP request as API Gateway (HTTP API, payload 2.0) would hand it to
 * the function, for the local run and tests: `$default` route key (the
 * router matches method and path), no authorizer (the local identity header
 * names the caller). The body is read up to `maxBytes`.
 */
export async function toApiGatewayEvent(req: IncomingMessage, maxBytes = 1024 * 1024): Promise<HttpEvent> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) throw new BodyTooLargeError(`The body is larger than ${maxBytes} bytes.`);
    chunks.push(chunk as Buffer);
  }
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(',') : v;
  // As API Gateway (payload 2.0) hands them: a repeated parameter's values joined with commas.
  // Built without a prototype: a parameter named constructor or __proto__ is a parameter like any other.
  const query: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [k, v] of url.searchParams) query[k] = Object.hasOwn(query, k) ? `${query[k]},${v}` : v;
  const requestId = randomUUID();
  const body = Buffer.concat(chunks);
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers,
    ...(Object.keys(query).length ? { queryStringParameters: query } : {}),
    requestContext: { requestId, routeKey: '$default', http: { method: req.method ?? 'GET', path: url.pathname, sourceIp: req.socket.remoteAddress ?? '', userAgent: headers['user-agent'] ?? '' } },
    // Bytes that are not UTF-8 go as base64, as API Gateway hands a body it does not take as text: the function refuses them (415).
    ...(isUtf8(body) ? { body: body.toString('utf8'), isBase64Encoded: false } : { body: body.toString('base64'), isBase64Encoded: true }),
  } as unknown as HttpEvent;
}
