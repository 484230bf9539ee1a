import { createHash, createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiError, RolegateClient, UnreachableError } from '../../../src/cli/client';
import { main } from '../../../src/cli/main';

/*
 * Without --as the CLI signs every call with SigV4 for execute-api. The fake
 * fetch records what would go on the wire; the signature is then recomputed
 * here from that request alone, by the steps of the AWS SigV4 specification,
 * with node:crypto — not with the signer under test.
 */

const API = 'https://abc123.execute-api.eu-west-1.amazonaws.com';
const CREDS = { accessKeyId: 'AKID', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };

interface Sent {
  url: URL;
  method: string;
  headers: Headers;
  body: string | undefined;
}

function fakeFetch(reply: { status?: number; body?: unknown } = {}): { fetch: typeof fetch; sent: Sent[] } {
  const sent: Sent[] = [];
  const fn = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    sent.push({ url: new URL(String(input)), method: init?.method ?? 'GET', headers: new Headers(init?.headers), body: init?.body as string | undefined });
    return new Response(JSON.stringify(reply.body ?? { entries: [] }), { status: reply.status ?? 200, headers: { 'content-type': 'application/json' } });
  };
  return { fetch: fn as typeof fetch, sent };
}

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');
const hmac = (key: Buffer | string, s: string) => createHmac('sha256', key).update(s, 'utf8').digest();
const rfc3986 = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** SigV4 signature of a request as sent, per the AWS "Create a signed AWS API request" steps. */
function expectedSignature(req: Sent, secret: string, region: string, service: string): string {
  const auth = req.headers.get('authorization')!;
  const signedHeaders = /SignedHeaders=([^,]+)/.exec(auth)![1]!.split(';');
  const amzDate = req.headers.get('x-amz-date')!;
  // Non-S3 services: each path segment URI-encoded twice (our paths are already plain, so once more).
  const canonicalUri = req.url.pathname
    .split('/')
    .map((seg) => rfc3986(seg))
    .join('/');
  const canonicalQuery = [...req.url.searchParams.entries()]
    .map(([k, v]) => [rfc3986(k), rfc3986(v)] as const)
    .sort(([a, x], [b, y]) => (a === b ? (x < y ? -1 : 1) : a < b ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const headerValue = (name: string) => (name === 'host' ? req.url.host : req.headers.get(name)!).trim().replace(/\s+/g, ' ');
  const canonicalHeaders = signedHeaders.map((h) => `${h}:${headerValue(h)}\n`).join('');
  const canonicalRequest = [req.method, canonicalUri, canonicalQuery, canonicalHeaders, signedHeaders.join(';'), sha256(req.body ?? '')].join('\n');
  const scope = `${amzDate.slice(0, 8)}/${region}/${service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonicalRequest)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, amzDate.slice(0, 8)), region), service), 'aws4_request');
  return createHmac('sha256', key).update(stringToSign, 'utf8').digest('hex');
}

describe('RolegateClient signs with SigV4 when no local principal is given', () => {
  it('signs a POST for execute-api in the region of the execute-api URL, with a signature that verifies', async () => {
    const { fetch, sent } = fakeFetch({ status: 201, body: { request: { id: 'R1' } } });
    const client = new RolegateClient({ api: API, credentials: CREDS, fetch });
    const before = Date.now();
    const body = { account: 'production', profile: 'ReadOnly', durationMinutes: 60, reason: 'Logs' };
    await expect(client.send('POST', '/requests', body)).resolves.toEqual({ request: { id: 'R1' } });

    expect(sent).toHaveLength(1);
    const req = sent[0]!;
    expect(req.url.href).toBe(`${API}/requests`);
    expect(req.body).toBe(JSON.stringify(body));
    const amzDate = req.headers.get('x-amz-date')!;
    expect(amzDate).toMatch(/^\d{8}T\d{6}Z$/);
    const signedAt = Date.parse(`${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`);
    expect(signedAt).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
    expect(signedAt).toBeLessThanOrEqual(Date.now());

    const auth = req.headers.get('authorization')!;
    expect(auth.startsWith(`AWS4-HMAC-SHA256 Credential=AKID/${amzDate.slice(0, 8)}/eu-west-1/execute-api/aws4_request, `)).toBe(true);
    const signedHeaders = /SignedHeaders=([^,]+)/.exec(auth)![1]!.split(';');
    expect(signedHeaders).toEqual(expect.arrayContaining(['host', 'x-amz-date', 'content-type']));
    expect(/Signature=([0-9a-f]{64})$/.exec(auth)![1]).toBe(expectedSignature(req, CREDS.secretAccessKey, 'eu-west-1', 'execute-api'));

    expect(req.headers.has('x-amz-security-token')).toBe(false);
    expect(req.headers.has('x-rolegate-principal')).toBe(false);
  });

  it('signs the query string of a GET too', async () => {
    const { fetch, sent } = fakeFetch({ body: { items: [] } });
    const client = new RolegateClient({ api: `${API}/prod`, credentials: CREDS, fetch });
    await client.send('GET', '/requests', undefined, { view: 'awaiting', status: 'PENDING', limit: '10', cursor: undefined });
    const req = sent[0]!;
    expect(req.url.pathname).toBe('/prod/requests');
    expect(Object.fromEntries(req.url.searchParams)).toEqual({ view: 'awaiting', status: 'PENDING', limit: '10' });
    expect(req.body).toBeUndefined();
    const sig = /Signature=([0-9a-f]{64})$/.exec(req.headers.get('authorization')!)![1];
    expect(sig).toBe(expectedSignature(req, CREDS.secretAccessKey, 'eu-west-1', 'execute-api'));
  });

  it('sends and signs the session token of temporary credentials', async () => {
    const { fetch, sent } = fakeFetch();
    const client = new RolegateClient({ api: API, credentials: { ...CREDS, accessKeyId: 'ASIATEMP', sessionToken: 'SESSION-TOKEN' }, fetch });
    await client.send('GET', '/catalog');
    const req = sent[0]!;
    expect(req.headers.get('x-amz-security-token')).toBe('SESSION-TOKEN');
    const auth = req.headers.get('authorization')!;
    expect(auth).toMatch(/^AWS4-HMAC-SHA256 Credential=ASIATEMP\/\d{8}\/eu-west-1\/execute-api\/aws4_request, /);
    expect(/SignedHeaders=([^,]+)/.exec(auth)![1]!.split(';')).toContain('x-amz-security-token');
    expect(/Signature=([0-9a-f]{64})$/.exec(auth)![1]).toBe(expectedSignature(req, CREDS.secretAccessKey, 'eu-west-1', 'execute-api'));
  });

  it.each([
    ['the execute-api URL', { api: 'https://xyz.execute-api.ap-southeast-2.amazonaws.com' }, 'ap-southeast-2'],
    ['--region over the URL', { api: 'https://xyz.execute-api.ap-southeast-2.amazonaws.com', region: 'eu-central-1' }, 'eu-central-1'],
    ['the default region for a custom domain', { api: 'https://rolegate.example.com', defaultRegion: 'eu-north-1' }, 'eu-north-1'],
    ['the URL over the default region', { api: 'https://xyz.execute-api.sa-east-1.amazonaws.com', defaultRegion: 'eu-north-1' }, 'sa-east-1'],
    ['us-east-1 when nothing names a region', { api: 'https://rolegate.example.com' }, 'us-east-1'],
  ])('takes the signing region from %s', async (_what, options, region) => {
    const { fetch, sent } = fakeFetch();
    await new RolegateClient({ ...options, credentials: CREDS, fetch }).send('GET', '/catalog');
    expect(sent[0]!.headers.get('authorization')).toContain(`/${region}/execute-api/aws4_request`);
  });

  it('sends the local identity header and no signature with a local principal', async () => {
    const { fetch, sent } = fakeFetch();
    await new RolegateClient({ api: 'http://127.0.0.1:3000', localPrincipal: 'arn:aws:iam::111111111111:user/alice', fetch }).send('GET', '/catalog');
    expect(sent[0]!.headers.get('x-rolegate-principal')).toBe('arn:aws:iam::111111111111:user/alice');
    expect(sent[0]!.headers.has('authorization')).toBe(false);
    expect(sent[0]!.headers.has('x-amz-date')).toBe(false);
  });

  it('turns an API error body into an ApiError with its code, message and details', async () => {
    const { fetch } = fakeFetch({ status: 400, body: { error: 'VALIDATION_FAILED', message: 'Bad.', details: [{ field: 'reason', reason: 'is required' }] } });
    const failure = new RolegateClient({ api: API, credentials: CREDS, fetch }).send('POST', '/requests', {});
    await expect(failure).rejects.toBeInstanceOf(ApiError);
    await expect(failure).rejects.toMatchObject({ status: 400, code: 'VALIDATION_FAILED', message: 'Bad.', details: [{ field: 'reason', reason: 'is required' }] });
  });

  it('names the correlation id of an opaque 500', async () => {
    const { fetch } = fakeFetch({ status: 500, body: { error: 'INTERNAL', message: 'Internal error.', correlationId: 'c-123' } });
    await expect(new RolegateClient({ api: API, credentials: CREDS, fetch }).send('GET', '/catalog')).rejects.toMatchObject({
      status: 500,
      code: 'INTERNAL',
      message: 'Internal error. (correlation id c-123)',
    });
  });

  it('reports a non-JSON answer (a proxy page, say) as BAD_RESPONSE', async () => {
    const fetch = (async () => new Response('<html>502 Bad Gateway</html>', { status: 502 })) as typeof globalThis.fetch;
    await expect(new RolegateClient({ api: API, credentials: CREDS, fetch }).send('GET', '/catalog')).rejects.toMatchObject({ status: 502, code: 'BAD_RESPONSE' });
  });
});

describe('RolegateClient never follows a redirect with signed credentials', () => {
  // Real fetch against two loopback servers: the API answers 307 to the other, which must see nothing.
  let api: Server;
  let elsewhere: Server;
  const reached: string[] = [];
  const listen = (handler: (req: IncomingMessage, res: ServerResponse) => void) =>
    new Promise<Server>((resolve) => {
      const server = createServer(handler);
      server.listen(0, '127.0.0.1', () => resolve(server));
    });
  const urlOf = (server: Server) => `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  beforeAll(async () => {
    elsewhere = await listen((req, res) => {
      reached.push(`${req.method} ${req.url} token=${req.headers['x-amz-security-token'] ?? '-'} authorization=${req.headers.authorization ?? '-'}`);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"entries":[]}');
    });
    api = await listen((req, res) => res.writeHead(307, { location: `${urlOf(elsewhere)}${req.url}` }).end());
  });
  afterAll(async () => {
    await new Promise((r) => api.close(r));
    await new Promise((r) => elsewhere.close(r));
  });

  it.each(['GET', 'POST'] as const)('refuses a %s redirect with a clear error and sends the session token nowhere else', async (method) => {
    const client = new RolegateClient({ api: urlOf(api), region: 'eu-west-1', credentials: { ...CREDS, accessKeyId: 'ASIATEMP', sessionToken: 'SESSION-TOKEN' } });
    const failure = client.send(method, '/catalog', method === 'POST' ? {} : undefined);
    await expect(failure).rejects.toMatchObject({
      status: 307,
      code: 'REDIRECT_REFUSED',
      message: `The API at ${urlOf(api)} answered 307 pointing to ${urlOf(elsewhere)}/catalog; the CLI never follows a redirect with signed credentials. Give the API's own URL in --api or $ROLEGATE_API.`,
    });
    expect(reached).toEqual([]);
  });

  it('refuses it with an OIDC bearer token too, which reaches nowhere else', async () => {
    const failure = new RolegateClient({ api: urlOf(api), bearerToken: 'aaa.bbb.ccc' }).send('GET', '/catalog');
    await expect(failure).rejects.toMatchObject({ status: 307, code: 'REDIRECT_REFUSED' });
    expect(reached).toEqual([]);
  });
});

describe('RolegateClient when the connection drops while the answer is read', () => {
  it('reports it as unreachable (transient for --wait), not as a crash', async () => {
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
      res.write('{"entries":');
      setTimeout(() => res.socket?.destroy(), 20);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const failure = new RolegateClient({ api: url, region: 'eu-west-1', credentials: CREDS }).send('GET', '/catalog');
      await expect(failure).rejects.toBeInstanceOf(UnreachableError);
      await expect(failure).rejects.toThrow(`The connection to the rolegate API at ${url} broke while reading its answer`);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});

describe('the CLI takes credentials from the standard AWS credential chain', () => {
  const KEYS = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE', 'AWS_SHARED_CREDENTIALS_FILE', 'AWS_CONFIG_FILE', 'AWS_REGION', 'AWS_DEFAULT_REGION',
    'AWS_EC2_METADATA_DISABLED', 'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI', 'AWS_CONTAINER_CREDENTIALS_FULL_URI', 'AWS_WEB_IDENTITY_TOKEN_FILE', 'AWS_ROLE_ARN'];
  const saved: Record<string, string | undefined> = {};
  let dir: string;
  beforeEach(() => {
    for (const k of KEYS) {
      saved[k] = process.env[k];
      delete process.env[k];
    }
    dir = mkdtempSync(join(tmpdir(), 'rolegate-cli-'));
    // Keep the chain away from the developer's own files and from instance metadata.
    process.env.AWS_SHARED_CREDENTIALS_FILE = join(dir, 'credentials');
    process.env.AWS_CONFIG_FILE = join(dir, 'config');
    process.env.AWS_EC2_METADATA_DISABLED = 'true';
    writeFileSync(process.env.AWS_CONFIG_FILE, '');
    writeFileSync(process.env.AWS_SHARED_CREDENTIALS_FILE, '');
  });
  afterEach(() => {
    for (const k of KEYS) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
    rmSync(dir, { recursive: true, force: true });
  });

  async function catalog(argv: string[], env: Record<string, string | undefined> = {}) {
    const { fetch, sent } = fakeFetch({ body: { entries: [] } });
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(['catalog', ...argv], { out: (l) => out.push(l), err: (l) => err.push(l), env, fetch });
    return { code, out, err, sent };
  }

  it('signs with the environment’s keys and session token when run without --as', async () => {
    process.env.AWS_ACCESS_KEY_ID = 'AKIDENV';
    process.env.AWS_SECRET_ACCESS_KEY = 'env-secret';
    process.env.AWS_SESSION_TOKEN = 'env-token';
    const r = await catalog(['--api', API]);
    expect(r.err).toEqual([]);
    expect(r.code).toBe(0);
    const req = r.sent[0]!;
    expect(req.headers.get('authorization')).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDENV\/\d{8}\/eu-west-1\/execute-api\/aws4_request, /);
    expect(req.headers.get('x-amz-security-token')).toBe('env-token');
    expect(req.headers.has('x-rolegate-principal')).toBe(false);
    expect(/Signature=([0-9a-f]{64})$/.exec(req.headers.get('authorization')!)![1]).toBe(expectedSignature(req, 'env-secret', 'eu-west-1', 'execute-api'));
  });

  it('signs with the keys of the --profile named in the shared credentials file', async () => {
    writeFileSync(process.env.AWS_SHARED_CREDENTIALS_FILE!, '[work]\naws_access_key_id = AKIDWORK\naws_secret_access_key = work-secret\n');
    const r = await catalog(['--api', API, '--profile', 'work']);
    expect(r.err).toEqual([]);
    const req = r.sent[0]!;
    expect(req.headers.get('authorization')).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDWORK\//);
    expect(/Signature=([0-9a-f]{64})$/.exec(req.headers.get('authorization')!)![1]).toBe(expectedSignature(req, 'work-secret', 'eu-west-1', 'execute-api'));
  });

  it('signs for AWS_REGION when the API is behind a custom domain, and --region wins over it', async () => {
    process.env.AWS_ACCESS_KEY_ID = 'AKIDENV';
    process.env.AWS_SECRET_ACCESS_KEY = 'env-secret';
    const fromEnv = await catalog(['--api', 'https://rolegate.example.com'], { AWS_REGION: 'eu-west-3' });
    expect(fromEnv.sent[0]!.headers.get('authorization')).toContain('/eu-west-3/execute-api/aws4_request');
    const fromFlag = await catalog(['--api', 'https://rolegate.example.com', '--region', 'us-west-2'], { AWS_REGION: 'eu-west-3' });
    expect(fromFlag.sent[0]!.headers.get('authorization')).toContain('/us-west-2/execute-api/aws4_request');
  });

  it('signs for the region of the profile in the shared config when neither the URL, --region nor the environment names one', async () => {
    writeFileSync(process.env.AWS_SHARED_CREDENTIALS_FILE!, '[default]\naws_access_key_id = AKIDDEF\naws_secret_access_key = def-secret\n[work]\naws_access_key_id = AKIDWORK\naws_secret_access_key = work-secret\n');
    writeFileSync(process.env.AWS_CONFIG_FILE!, '[default]\nregion = eu-west-3\n[profile work]\nregion = ap-northeast-1\n');
    const custom = 'https://rolegate.example.com';

    const named = await catalog(['--api', custom, '--profile', 'work']);
    expect(named.err).toEqual([]);
    const req = named.sent[0]!;
    expect(req.headers.get('authorization')).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDWORK\/\d{8}\/ap-northeast-1\/execute-api\/aws4_request, /);
    expect(/Signature=([0-9a-f]{64})$/.exec(req.headers.get('authorization')!)![1]).toBe(expectedSignature(req, 'work-secret', 'ap-northeast-1', 'execute-api'));

    process.env.AWS_PROFILE = 'work';
    const fromEnvProfile = await catalog(['--api', custom], { AWS_PROFILE: 'work' });
    expect(fromEnvProfile.sent[0]!.headers.get('authorization')).toContain('/ap-northeast-1/execute-api/aws4_request');
    delete process.env.AWS_PROFILE;

    const byDefault = await catalog(['--api', custom]);
    expect(byDefault.sent[0]!.headers.get('authorization')).toContain('/eu-west-3/execute-api/aws4_request');

    // What names a region more directly wins: AWS_REGION, --region, an execute-api URL.
    expect((await catalog(['--api', custom, '--profile', 'work'], { AWS_REGION: 'sa-east-1' })).sent[0]!.headers.get('authorization')).toContain('/sa-east-1/');
    expect((await catalog(['--api', custom, '--profile', 'work', '--region', 'us-west-2'])).sent[0]!.headers.get('authorization')).toContain('/us-west-2/');
    expect((await catalog(['--api', API, '--profile', 'work'])).sent[0]!.headers.get('authorization')).toContain('/eu-west-1/');
  });

  it('falls back to us-east-1 when no profile names a region', async () => {
    writeFileSync(process.env.AWS_SHARED_CREDENTIALS_FILE!, '[work]\naws_access_key_id = AKIDWORK\naws_secret_access_key = work-secret\n');
    const r = await catalog(['--api', 'https://rolegate.example.com', '--profile', 'work']);
    expect(r.err).toEqual([]);
    expect(r.sent[0]!.headers.get('authorization')).toContain('/us-east-1/execute-api/aws4_request');
  });

  it('uses the identity header instead of signing with --as, even with keys in the environment', async () => {
    process.env.AWS_ACCESS_KEY_ID = 'AKIDENV';
    process.env.AWS_SECRET_ACCESS_KEY = 'env-secret';
    const r = await catalog(['--api', 'http://127.0.0.1:3000', '--as', 'arn:aws:iam::111111111111:user/alice']);
    expect(r.sent[0]!.headers.get('x-rolegate-principal')).toBe('arn:aws:iam::111111111111:user/alice');
    expect(r.sent[0]!.headers.has('authorization')).toBe(false);
  });

  it('signs nothing for the built-in local address: without --api or $ROLEGATE_API it is a usage error', async () => {
    process.env.AWS_ACCESS_KEY_ID = 'AKIDENV';
    process.env.AWS_SECRET_ACCESS_KEY = 'env-secret';
    const r = await catalog([]);
    expect(r.code).toBe(2);
    expect(r.sent).toEqual([]);
    expect(r.err[0]!.split('\n')[0]).toBe(
      'Name the API with --api URL (or $ROLEGATE_API): without one the CLI talks only to the local run (http://127.0.0.1:3000, with --as ARN), and sends it no OIDC token or SigV4 signature.',
    );
  });

  it('reports missing credentials clearly, pointing at --as, and sends nothing', async () => {
    const r = await catalog(['--api', API, '--profile', 'nobody']);
    expect(r.code).toBe(1);
    expect(r.sent).toHaveLength(0);
    expect(r.err.join('\n')).toMatch(/^Error: No AWS credentials to sign the request with for profile "nobody" \(.+\)\. Configure credentials as for the AWS CLI, or use --as <ARN> against the local run\.$/);
  });
});
