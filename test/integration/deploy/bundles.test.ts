import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildLikeDeployment, FUNCTIONS, type BuiltFunction } from '../../../scripts/deployment-build';

const ROOT = join(__dirname, '..', '..', '..');

/*
 * The functions built with serverless.yml's esbuild options (ES modules, code
 * splitting), loaded by a fresh Node as Lambda would load them. The unit and
 * integration tests run the TypeScript sources; this is what proves the
 * shipped files load: the `require` banner, every lazy chunk, the handler.
 */
describe('the functions as built for deployment', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rolegate-bundles-'));
  const built = new Map<string, BuiltFunction>();

  beforeAll(async () => {
    for (const name of FUNCTIONS) built.set(name, await buildLikeDeployment(join(ROOT, 'src', 'handlers', `${name}.ts`), join(dir, name)));
  }, 120_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Runs an ES module script in a fresh node with a deployed function's environment; returns its stdout. */
  const run = (script: string) =>
    execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      env: { PATH: process.env.PATH, ROLEGATE_CONFIG: join(ROOT, 'config', 'rolegate.example.yaml'), ROLEGATE_TABLE: 'bundles', AWS_REGION: 'eu-west-1', AWS_LAMBDA_FUNCTION_NAME: 'bundles', ROLEGATE_LOG_LEVEL: 'ERROR' },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 60_000,
    }).toString();

  it.each(FUNCTIONS)('%s: the entry and every chunk, lazy ones included, load in a fresh node and export a handler', (name) => {
    const f = built.get(name)!;
    expect(f.lazy.length).toBeGreaterThan(0);
    const files = [f.entry, ...f.eager.filter((x) => x !== f.entry), ...f.lazy];
    const out = run(`const seen = []; for (const f of ${JSON.stringify(files)}) { const m = await import(f); if (f === ${JSON.stringify(f.entry)}) seen.push(typeof m.handler); } console.log(JSON.stringify(seen));`);
    expect(JSON.parse(out)).toEqual(['function']);
  });

  it('keeps the IAM, STS and SSM clients out of every cold start: they load when first needed', () => {
    for (const name of FUNCTIONS) {
      const eager = built.get(name)!.eagerPackages;
      expect({ name, eager: eager.filter((p) => ['@aws-sdk/client-iam', '@aws-sdk/client-sts', '@aws-sdk/client-ssm'].includes(p)) }).toEqual({ name, eager: [] });
      expect(eager).toContain('@aws-sdk/client-dynamodb');
    }
  });

  it('the api bundle answers GET /health through its handler', () => {
    const event = { version: '2.0', routeKey: 'GET /health', rawPath: '/health', rawQueryString: '', headers: {}, requestContext: { http: { method: 'GET', path: '/health' }, requestId: 'r1' }, isBase64Encoded: false };
    const context = { awsRequestId: 'r1', functionName: 'api' };
    const out = run(`const { handler } = await import(${JSON.stringify(built.get('api')!.entry)}); const res = await handler(${JSON.stringify(event)}, { ...${JSON.stringify(context)}, getRemainingTimeInMillis: () => 1000 }); console.log('RESULT ' + JSON.stringify(res));`);
    const line = out.split('\n').find((l) => l.startsWith('RESULT '))!;
    const res = JSON.parse(line.slice('RESULT '.length)) as { statusCode: number; body: string };
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ status: 'ok' });
  });
});
