import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../../src/cli/main';

/*
 * A stack deployed with auth=jwt admits OIDC tokens, not SigV4: the CLI then
 * sends the token from --token-file or $ROLEGATE_TOKEN as a bearer token,
 * and nothing signed. The fake fetch records what would go on the wire.
 */

const API = 'https://rolegate.example.com';
const TOKEN = 'eyJhbGciOiJSUzI1NiJ9.eyJlbWFpbCI6ImFsaWNlQGV4YW1wbGUuY29tIn0.c2lnbmF0dXJl';

interface Sent {
  url: URL;
  headers: Headers;
}

function fakeFetch(status = 200, body: unknown = { entries: [] }): { fetch: typeof fetch; sent: Sent[] } {
  const sent: Sent[] = [];
  const fn = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    sent.push({ url: new URL(String(input)), headers: new Headers(init?.headers) });
    return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
  };
  return { fetch: fn as typeof fetch, sent };
}

describe('the CLI signs in with an OIDC token', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'rolegate-token-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  async function catalog(argv: string[], env: Record<string, string | undefined> = {}, reply?: { status: number; body: unknown }) {
    const { fetch, sent } = fakeFetch(reply?.status, reply?.body);
    const out: string[] = [];
    const err: string[] = [];
    // AWS keys in the environment too: a token must win over them, never be sent beside a signature.
    const code = await main(['catalog', '--api', API, ...argv], { out: (l) => out.push(l), err: (l) => err.push(l), env: { AWS_ACCESS_KEY_ID: 'AKIDENV', AWS_SECRET_ACCESS_KEY: 's', ...env }, fetch });
    return { code, out, err, sent };
  }

  it('sends $ROLEGATE_TOKEN as a bearer token, with no SigV4 headers and no local identity header', async () => {
    const r = await catalog([], { ROLEGATE_TOKEN: `${TOKEN}\n` });
    expect(r.code).toBe(0);
    expect(r.sent).toHaveLength(1);
    const headers = r.sent[0]!.headers;
    expect(headers.get('authorization')).toBe(`Bearer ${TOKEN}`);
    expect([...headers.keys()].filter((k) => k.startsWith('x-amz-') || k === 'x-rolegate-principal')).toEqual([]);
  });

  it('reads the token from --token-file (trimmed), which wins over $ROLEGATE_TOKEN', async () => {
    const file = join(dir, 'token');
    writeFileSync(file, `  ${TOKEN}\n`);
    const r = await catalog(['--token-file', file], { ROLEGATE_TOKEN: 'aaa.bbb.ccc' });
    expect(r.code).toBe(0);
    expect(r.sent[0]!.headers.get('authorization')).toBe(`Bearer ${TOKEN}`);
  });

  it('uses the local identity header with --as, to the local run only, sending no token', async () => {
    const r = await catalog(['--api', 'http://127.0.0.1:3000', '--as', 'arn:aws:iam::111111111111:user/alice'], { ROLEGATE_TOKEN: TOKEN });
    expect(String(r.sent[0]!.url)).toBe('http://127.0.0.1:3000/catalog');
    expect(r.sent[0]!.headers.get('x-rolegate-principal')).toBe('arn:aws:iam::111111111111:user/alice');
    expect(r.sent[0]!.headers.has('authorization')).toBe(false);
    // Sent elsewhere, the header would be ignored (a deployed API): refused, sending nothing.
    const elsewhere = await catalog(['--as', 'arn:aws:iam::111111111111:user/alice'], { ROLEGATE_TOKEN: TOKEN });
    expect(elsewhere).toMatchObject({ code: 2, sent: [] });
    expect(elsewhere.err[0]!.split('\n')[0]).toBe(`--as names the caller of the local run (npm start) on this machine; ${API} is not this machine (a deployed API takes a signature or a token, never --as).`);
  });

  it('with --as and no --api, calls the local run even where $ROLEGATE_API names a deployed API', async () => {
    const { fetch, sent } = fakeFetch();
    const code = await main(['catalog', '--as', 'arn:aws:iam::111111111111:user/alice'], { out: () => undefined, err: () => undefined, env: { ROLEGATE_API: API }, fetch });
    expect(code).toBe(0);
    expect(sent.map((x) => String(x.url))).toEqual(['http://127.0.0.1:3000/catalog']);
  });

  it.each([
    [['--profile', 'work'], '--profile is for SigV4 signing, but an OIDC token ($ROLEGATE_TOKEN) signs in instead: give one or the other.'],
    [['--region', 'eu-west-1'], '--region is for SigV4 signing, but an OIDC token ($ROLEGATE_TOKEN) signs in instead: give one or the other.'],
  ])('refuses %j beside a token as a usage error, sending nothing', async (argv, message) => {
    const r = await catalog(argv, { ROLEGATE_TOKEN: TOKEN });
    expect(r.code).toBe(2);
    expect(r.sent).toEqual([]);
    expect(r.err[0]!.split('\n')[0]).toBe(message);
  });

  it.each([
    ['two lines', `${TOKEN}\n${TOKEN}`],
    ['a JSON reply', JSON.stringify({ id_token: TOKEN })],
    ['a header line', `Authorization: Bearer ${TOKEN}`],
    ['an empty file', ''],
  ])('refuses a token file holding %s, without echoing it, and sends nothing', async (_what, contents) => {
    const file = join(dir, 'token');
    writeFileSync(file, contents);
    const r = await catalog(['--token-file', file]);
    expect(r.code).toBe(2);
    expect(r.sent).toEqual([]);
    expect(r.err[0]!.split('\n')[0]).toBe(`The token file ${file} must hold one OIDC token (a JWT: three base64url parts separated by dots), and nothing else.`);
    expect(r.err.join('\n')).not.toContain(TOKEN);
  });

  it('refuses a $ROLEGATE_TOKEN that is not a JWT, naming the variable', async () => {
    const r = await catalog([], { ROLEGATE_TOKEN: 'Bearer abc' });
    expect(r.code).toBe(2);
    expect(r.sent).toEqual([]);
    expect(r.err[0]!.split('\n')[0]).toBe('$ROLEGATE_TOKEN must hold one OIDC token (a JWT: three base64url parts separated by dots), and nothing else.');
  });

  it('says which token file it could not read', async () => {
    const file = join(dir, 'missing');
    const r = await catalog(['--token-file', file]);
    expect(r.code).toBe(2);
    expect(r.sent).toEqual([]);
    expect(r.err[0]!.split('\n')[0]).toMatch(new RegExp(`^Cannot read the token file ${file}: ENOENT`));
  });

  it.each([
    ['an http API elsewhere', ['--api', 'http://rolegate.example.com'], 'An OIDC token is sent only over https (or to this machine): http://rolegate.example.com is not.'],
    ['--as with --token-file', ['--as', 'arn:aws:iam::111111111111:user/alice', '--token-file', '/nonexistent'], '--as names the caller of the local run; --token-file signs in to a deployed API: give one or the other.'],
  ])('refuses %s as a usage error, sending nothing', async (_what, argv, message) => {
    const r = await catalog(argv, { ROLEGATE_TOKEN: TOKEN });
    expect(r.code).toBe(2);
    expect(r.sent).toEqual([]);
    expect(r.err[0]!.split('\n')[0]).toBe(message);
  });

  it('sends a token over http to this machine (the local run)', async () => {
    const r = await catalog(['--api', 'http://127.0.0.1:3000'], { ROLEGATE_TOKEN: TOKEN });
    expect(r.code).toBe(0);
    expect(r.sent[0]!.headers.get('authorization')).toBe(`Bearer ${TOKEN}`);
  });

  it('sends a token only to an API named by --api or $ROLEGATE_API, never to the built-in local address', async () => {
    const unnamed = fakeFetch();
    const err: string[] = [];
    const code = await main(['catalog'], { out: () => {}, err: (l) => err.push(l), env: { ROLEGATE_TOKEN: TOKEN }, fetch: unnamed.fetch });
    expect(code).toBe(2);
    expect(unnamed.sent).toEqual([]);
    expect(err[0]!.split('\n')[0]).toBe(
      'Name the API with --api URL (or $ROLEGATE_API): without one the CLI talks only to the local run (http://127.0.0.1:3000, with --as ARN), and sends it no OIDC token or SigV4 signature.',
    );

    const fromEnv = fakeFetch();
    expect(await main(['catalog'], { out: () => {}, err: () => {}, env: { ROLEGATE_TOKEN: TOKEN, ROLEGATE_API: API }, fetch: fromEnv.fetch })).toBe(0);
    expect(fromEnv.sent.map((s) => [s.url.origin, s.headers.get('authorization')])).toEqual([[API, `Bearer ${TOKEN}`]]);

    const local = fakeFetch();
    expect(await main(['catalog', '--as', 'arn:aws:iam::111111111111:user/alice'], { out: () => {}, err: () => {}, env: { ROLEGATE_TOKEN: TOKEN }, fetch: local.fetch })).toBe(0);
    expect(local.sent.map((s) => [s.url.origin, s.headers.get('authorization')])).toEqual([['http://127.0.0.1:3000', null]]);
  });

  it('explains a 401 from the JWT authorizer as a refused token', async () => {
    const r = await catalog([], { ROLEGATE_TOKEN: TOKEN }, { status: 401, body: { message: 'Unauthorized' } });
    expect(r.code).toBe(1);
    expect(r.err).toEqual(['Error 401 HTTP_401: Unauthorized (the OIDC token was refused: it may have expired; get a fresh one)']);
  });
});
