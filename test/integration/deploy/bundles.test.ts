import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildLikeDeployment, deploymentCode, FUNCTIONS, type BuiltFunction } from '../../../scripts/deployment-build';
import { validatedConfig } from '../../../src/config';
import { ARN } from '../../helpers/settings';
import { callBuiltHandler } from '../../helpers/built-handler';
import { apiEvent } from '../../helpers/events';

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

  const DEPLOYED_ENV = {
    ROLEGATE_CONFIG: join(ROOT, 'config', 'rolegate.example.yaml'),
    ROLEGATE_TABLE: 'bundles',
    AWS_REGION: 'eu-west-1',
    AWS_LAMBDA_FUNCTION_NAME: 'bundles',
    ROLEGATE_LOG_LEVEL: 'ERROR',
    // Nothing here should reach AWS; should something try, it meets a closed loopback port, not AWS or the instance metadata.
    AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_ACCESS_KEY_ID: 'AKIDBUNDLESTEST',
    AWS_SECRET_ACCESS_KEY: 'bundles-test',
  };
  /** Runs an ES module script in a fresh node with a deployed function's environment; returns its stdout. */
  const run = (script: string) =>
    execFileSync(process.execPath, ['--input-type=module', '-e', script], { env: { PATH: process.env.PATH, ...DEPLOYED_ENV }, stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 }).toString();

  /** The api bundle's answer to GET `path`, a signed-in call of `arn` when given, with a deployed function's environment (and `env`). */
  const callApi = (path: string, env: Record<string, string> = {}, arn?: string) => {
    const { result, output } = callBuiltHandler(built.get('api')!.entry, 'handler', apiEvent({ method: 'GET', path, ...(arn ? { caller: arn } : {}) }), { env: { ...DEPLOYED_ENV, ...env } });
    if (!result) throw new Error(`the api bundle gave no answer: ${output}`);
    return { statusCode: result.statusCode, body: JSON.parse(result.body) as unknown };
  };

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

  it('keeps the configuration file\'s parser and schemas out of every cold start: they load only without a matching validated copy', () => {
    for (const name of FUNCTIONS) {
      const eager = built.get(name)!.eagerPackages;
      // The API validates every request with zod, so zod is the API's at cold start; js-yaml is no one's.
      const parsers = name === 'api' ? ['js-yaml'] : ['js-yaml', 'zod'];
      expect({ name, eager: eager.filter((p) => parsers.includes(p)) }).toEqual({ name, eager: [] });
    }
  });

  it('reads each function\'s own code at cold start from its entry file alone: the other files a cold start reads are the SDK\'s', () => {
    for (const name of FUNCTIONS) {
      const f = built.get(name)!;
      const ownElsewhere = f.eager.filter((file) => file !== f.entry).flatMap((file) => f.files[file]!.modules.filter((m) => !m.includes('node_modules/')));
      expect({ name, ownElsewhere }).toEqual({ name, ownElsewhere: [] });
    }
  });

  it('exports from each entry every name its lazy chunks read from it', () => {
    for (const name of FUNCTIONS) {
      const f = built.get(name)!;
      const read = new Set(f.lazy.flatMap((file) => readFileSync(file, 'utf8').match(/__rg\d+_[A-Za-z0-9_$]+/g) ?? []));
      const exported = new Set(f.files[f.entry]!.exports);
      // The API's lazy code reads shared modules from its entry (the configuration parser, the dry-run planner…).
      if (name === 'api') expect(read.size).toBeGreaterThan(10);
      expect({ name, missing: [...read].filter((n) => !exported.has(n)) }).toEqual({ name, missing: [] });
    }
  });

  it('the api bundle serves the committed OpenAPI document', () => {
    const { statusCode, body } = callApi('/openapi.json');
    expect(statusCode).toBe(200);
    expect(body).toEqual(JSON.parse(readFileSync(join(ROOT, 'openapi.json'), 'utf8')));
  });

  it('the api bundle, with no validated copy, loads the configuration parser from its lazy chunk, which refuses a bad file in rolegate\'s words', () => {
    // The parser reads zod, the wording and the deployment's values through the entry (one copy of each module).
    const file = join(dir, 'no-identity-account.yaml');
    writeFileSync(file, readFileSync(join(ROOT, 'config', 'rolegate.example.yaml'), 'utf8').replace(/^identityAccountId: .*$/m, ''));
    const { result, output } = callBuiltHandler(built.get('api')!.entry, 'handler', apiEvent({ method: 'GET', path: '/health' }), { env: { ...DEPLOYED_ENV, ROLEGATE_CONFIG: file } });

    expect(result?.statusCode).toBe(500);
    // zod's own English would say "Invalid input: expected string, received undefined".
    expect(output).toContain('identityAccountId: is required');
  });

  it('the api bundle answers GET /health through its handler', () => {
    expect(callApi('/health')).toEqual({ statusCode: 200, body: { status: 'ok' } });
  });

  it('the api bundle loads js-yaml when a body holds a key twice, and refuses the body', () => {
    // POST /requests: the duplicate is refused before anything reads the table (none is reachable here).
    const event = apiEvent({ method: 'POST', path: '/requests', caller: ARN.alice, rawBody: '{"account":"production","profile":"ReadOnly","account":"staging"}' });
    const { result, output } = callBuiltHandler(built.get('api')!.entry, 'handler', event, { env: DEPLOYED_ENV });
    if (!result) throw new Error(`the api bundle gave no answer: ${output}`);

    const body = JSON.parse(result.body) as { error: string; message: string };
    expect({ statusCode: result.statusCode, error: body.error, message: body.message }).toEqual({
      statusCode: 400,
      error: 'INVALID_JSON',
      message: 'The body is not valid JSON for rolegate: an object holds the same key twice.',
    });
  });

  it('the api bundle loads the validated copy packaging ships, when it matches the file', () => {
    // Settings of its own (the first account's name), which only a copy in use shows in the catalog.
    const v = validatedConfig(join(ROOT, 'config', 'rolegate.example.yaml'), {}, deploymentCode());
    v.settings.accounts[0]!.name = 'Staging, from the copy';
    const copy = join(dir, 'validated-config.json');
    writeFileSync(copy, JSON.stringify(v));
    const names = (env: Record<string, string>) => {
      const { statusCode, body } = callApi('/catalog', env, ARN.alice);
      expect(statusCode).toBe(200);
      return [...new Set((body as { entries: { accountName?: string }[] }).entries.map((e) => e.accountName))];
    };

    expect(names({ ROLEGATE_VALIDATED_CONFIG: copy })).toEqual(['Staging, from the copy', 'Production']);
    // The same copy for a stack with other values, or made by other code, is passed over: the file is validated and loaded.
    expect(names({ ROLEGATE_VALIDATED_CONFIG: copy, ROLEGATE_SECRETS_PATH: 'acme/rolegate' })).toEqual(['Staging', 'Production']);
    writeFileSync(copy, JSON.stringify({ ...v, code: 'f00d'.repeat(16) }));
    expect(names({ ROLEGATE_VALIDATED_CONFIG: copy })).toEqual(['Staging', 'Production']);
  });
});
