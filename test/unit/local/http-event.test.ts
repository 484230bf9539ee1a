import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { toApiGatewayEvent } from '../../../src/local/http-event';

/* The local server's request → API Gateway event, as `npm start` hands it to the API function. */

function request(body: Buffer, headers: Record<string, string> = {}): IncomingMessage {
  return Object.assign(Readable.from([body]), {
    url: '/requests?view=mine',
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    socket: { remoteAddress: '127.0.0.1' },
  }) as unknown as IncomingMessage;
}

describe('the local server', () => {
  it('hands a UTF-8 body as text, with the client’s address and User-Agent where API Gateway puts them', async () => {
    const event = await toApiGatewayEvent(request(Buffer.from('{"reason":"café ☕"}'), { 'user-agent': 'curl/8.5' }));
    expect(event).toMatchObject({ body: '{"reason":"café ☕"}', isBase64Encoded: false, rawPath: '/requests', rawQueryString: 'view=mine' });
    expect(event.requestContext.http).toMatchObject({ method: 'POST', path: '/requests', sourceIp: '127.0.0.1', userAgent: 'curl/8.5' });
  });

  it('hands a repeated query parameter as API Gateway does, its values joined with commas, and the raw query string as sent', async () => {
    const req = Object.assign(request(Buffer.from('')), { url: '/requests?limit=1&view=all&limit=2', method: 'GET' });
    const event = await toApiGatewayEvent(req);
    expect({ ...event.queryStringParameters }).toEqual({ limit: '1,2', view: 'all' });
    expect(event.rawQueryString).toBe('limit=1&view=all&limit=2');
    // Names an object inherits are parameters like any other: kept, as sent, for the route to refuse.
    const odd = await toApiGatewayEvent(Object.assign(request(Buffer.from('')), { url: '/catalog?constructor=a&__proto__=1', method: 'GET' }));
    expect(Object.entries(odd.queryStringParameters!)).toEqual([['constructor', 'a'], ['__proto__', '1']]);
  });

  it('hands bytes that are not UTF-8 as base64, for the function to refuse, never as text with U+FFFD in it', async () => {
    const latin1 = Buffer.from('{"reason":"café"}', 'latin1');
    const event = await toApiGatewayEvent(request(latin1));
    expect(event.isBase64Encoded).toBe(true);
    expect(Buffer.from(event.body!, 'base64')).toEqual(latin1);
  });
});
