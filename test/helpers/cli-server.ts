import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HttpHandler } from '../../src/handlers/http/app';
import { toApiGatewayEvent } from '../../src/local/http-event';
import type { HttpEvent } from '../../src/handlers/http/types';
import { lambdaContext } from './events';

export interface LocalServer {
  /** Base URL, e.g. http://127.0.0.1:54321 */
  url: string;
  /** Raw requests as they arrived: method, path and headers (lower-case names). */
  seen: { method: string; path: string; headers: Record<string, string> }[];
  close(): Promise<void>;
}

/**
 * Serves an HttpHandler on 127.0.0.1 (a free port), turning each HTTP request
 * into an API Gateway v2 `$default` event the way scripts/local.ts does: no
 * routeKey match, no pathParameters, no authorizer, so routing and identity
 * go through the same local-run paths as `npm start`.
 */
export async function serveLocally(handler: HttpHandler): Promise<LocalServer> {
  const seen: LocalServer['seen'] = [];
  const server: Server = createServer((req, res) => {
    void toEvent(req, seen)
      .then((event) => handler(event, lambdaContext()))
      .then((result) => reply(res, result.statusCode, result.headers ?? {}, result.body ?? ''))
      .catch((e: unknown) => reply(res, 500, { 'content-type': 'text/plain' }, `test server error: ${String(e)}`));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((e) => (e ? reject(e) : resolve()));
      }),
  };
}

function reply(res: ServerResponse, status: number, headers: Record<string, string>, body: string): void {
  if (res.headersSent) return void res.end();
  res.writeHead(status, headers).end(body);
}

async function toEvent(req: IncomingMessage, seen: LocalServer['seen']): Promise<HttpEvent> {
  const event = await toApiGatewayEvent(req);
  seen.push({ method: req.method ?? 'GET', path: `${event.rawPath}${event.rawQueryString ? `?${event.rawQueryString}` : ''}`, headers: event.headers as Record<string, string> });
  return event;
}
