import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryLogger } from '../../../src/adapters/logger';
import { loadApp } from '../../../src/compose';
import { loadSettings, parseSettings, validatedConfig } from '../../../src/config';
import { BUILT_CODE, DEFAULT_DEPLOYMENT, readEnv, type ValidatedConfig } from '../../../src/environment';
import { functionSettings } from '../../../src/environment';
import { ConfigError } from '../../../src/domain/errors';
import { ARN, EXAMPLE_CONFIG, exampleSettings } from '../../helpers/settings';

/*
 * `serverless package` validates the configuration and ships what it
 * validated beside the file; a deployed function loads that copy at cold
 * start instead of validating the file again, but only while the copy was
 * made from the file's very text, against the stack's very values, by the
 * very code the function runs (the fingerprint packaging bakes into its
 * bundle). Otherwise the file is validated as ever, and the function says
 * why it passed the copy over.
 */

/** The fingerprint of the code under test (a bundle's comes from scripts/code-fingerprint.js). */
const CODE = 'c0de'.repeat(16);

const EXAMPLE_TEXT = readFileSync(EXAMPLE_CONFIG, 'utf8');
let dir: string;
let config: string;
let copy: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'rolegate-validated-'));
  config = join(dir, 'rolegate.yaml');
  copy = join(dir, 'validated-config.json');
  writeFileSync(config, EXAMPLE_TEXT);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const writeCopy = (value: unknown) => writeFileSync(copy, typeof value === 'string' ? value : JSON.stringify(value));

/** A deployed function's settings (functionSettings), with what it said of the copy. */
async function load(deployment = {}, { code }: { code: string | undefined } = { code: CODE }) {
  const stale: string[] = [];
  const settings = await functionSettings(config, copy, deployment, code, (why) => stale.push(why));
  return { settings, stale };
}

/** A copy with settings of its own (the first account's alias), so that using it would show. */
function markedCopy(deployment = {}): ValidatedConfig {
  const v = validatedConfig(config, deployment, CODE);
  v.settings.accounts[0]!.alias = 'from-the-copy';
  return v;
}

it('validates the file as loadSettings does, and records its hash, the deployment values it was checked against and the code', () => {
  const v = validatedConfig(config, { secretsPath: 'acme/rolegate' }, CODE);

  expect(v.format).toBe('rolegate-validated-config/1');
  expect(v.sourceSha256).toBe(createHash('sha256').update(EXAMPLE_TEXT, 'utf8').digest('hex'));
  expect(v.deployment).toStrictEqual({ ...DEFAULT_DEPLOYMENT, secretsPath: 'acme/rolegate' });
  expect(v.code).toBe(CODE);
  expect(v.settings).toStrictEqual(loadSettings(config, { secretsPath: 'acme/rolegate' }));
  expect(() => validatedConfig(config, { auth: 'jwt' }, CODE)).toThrow(ConfigError);
});

it('loads a matching copy as the settings, without a word, strictly equal to what validating the file gives', async () => {
  writeCopy(validatedConfig(config, {}, CODE));

  const { settings, stale } = await load();

  expect(stale).toEqual([]);
  expect(settings).toStrictEqual(loadSettings(config));
  // At once, not as a promise: a function composes as its module loads, and loads no parser.
  expect(functionSettings(config, copy, {}, CODE, () => undefined)).not.toBeInstanceOf(Promise);
});

it('takes the settings from the copy, not from validating the file again, while the copy matches', async () => {
  writeCopy(markedCopy());

  const { settings, stale } = await load();

  expect(stale).toEqual([]);
  expect(settings.accounts[0]!.alias).toBe('from-the-copy');
});

it('settings pass through JSON unchanged, every optional section in use (nothing JSON would drop or turn)', () => {
  const doc = JSON.parse(JSON.stringify(exampleSettings()));
  doc.provisioner.personalGrants = true;
  doc.responders = [ARN.responder];
  doc.slack = { users: { U012AB3CD: ARN.alice }, teamIds: ['T012AB3CD'] };
  doc.oidc = { issuer: 'https://issuer.example.com', audience: ['rolegate'], principals: { 'alice@example.com': ARN.alice } };
  doc.webhooks = [{ url: 'https://hooks.example.com/rolegate', secretParameter: '/rolegate/webhooks/teams', events: ['*'] }];
  doc.profiles[1].inlinePolicy.Statement[0].Condition = { Bool: { 'aws:SecureTransport': 'true' }, NumericLessThan: { 's3:max-keys': 10 } };
  const settings = parseSettings(doc);
  expect(settings.slack?.signingSecretParameter).toBe('/rolegate/slack/signing-secret');

  expect(JSON.parse(JSON.stringify(settings))).toStrictEqual(settings);
});

describe('passes a copy over, says why, and validates the file instead', () => {
  it('a copy made from another text of the file: the file as edited since is what loads', async () => {
    writeCopy(markedCopy());
    writeFileSync(config, EXAMPLE_TEXT.replace('name: Staging', 'name: Staging (edited)'));

    const { settings, stale } = await load();

    expect(stale).toEqual(['it was made from another text of the configuration file']);
    expect(settings).toStrictEqual(loadSettings(config));
    expect(settings.accounts.map((a) => a.name)).toContain('Staging (edited)');
  });

  it.each<[string, (v: ValidatedConfig) => unknown, string]>([
    ['validated by other code (another build of rolegate)', (v) => ({ ...v, code: 'f00d'.repeat(16) }), 'it was validated by other code than this build of rolegate'],
    ['that records no code', ({ code: _code, ...v }) => v, 'it was validated by other code than this build of rolegate'],
    ['checked against other stack values', (v) => ({ ...v, deployment: { ...v.deployment, secretsPath: 'other', auth: 'jwt' } }), 'it was checked against other deployment values (secretsPath, auth)'],
    ['that records no stack values', ({ deployment: _deployment, ...v }) => v, 'it was checked against other deployment values (secretsPath, provisionerRoleName, identityRoleName, auth)'],
    ['of another format', (v) => ({ ...v, format: 'rolegate-validated-config/0' }), 'it is not of format rolegate-validated-config/1'],
    ['holding no settings', (v) => ({ ...v, settings: null }), 'it holds no settings'],
    ['not JSON', () => '{"format": "rolegate-validated-config/1",', 'it cannot be read (not JSON)'],
    ['JSON null', () => 'null', 'it is not of format rolegate-validated-config/1'],
  ])('a copy %s', async (_name, shape, why) => {
    writeCopy(shape(markedCopy()));

    const { settings, stale } = await load();

    expect(stale).toEqual([why]);
    expect(settings).toStrictEqual(loadSettings(config));
  });

  it('any copy, when the running code carries no fingerprint (not built by serverless package)', async () => {
    writeCopy(markedCopy());

    const { settings, stale } = await load({}, { code: undefined });

    expect(stale).toEqual(['this code carries no fingerprint (it was not built by serverless package)']);
    expect(settings).toStrictEqual(loadSettings(config));
  });

  it('a copy that is not there', async () => {
    const { settings, stale } = await load();

    expect(stale).toEqual(['it cannot be read (ENOENT)']);
    expect(settings).toStrictEqual(loadSettings(config));
  });

  it('a copy made against the defaults, for a stack deployed with other values, which the file then fails', async () => {
    writeCopy(markedCopy());

    await expect(load({ auth: 'jwt' })).rejects.toThrow(/oidc: is required: the stack signs callers in with OIDC/);
  });

  it('a copy of a valid file edited since into an invalid one: the edit is refused, never the old copy used', async () => {
    writeCopy(markedCopy());
    writeFileSync(config, EXAMPLE_TEXT.replace('mode: dry-run', 'mode: sometimes'));

    await expect(load()).rejects.toThrow(ConfigError);
  });
});

describe('a deployed function (loadApp)', () => {
  const dynamodb = new DynamoDBClient({ region: 'eu-west-1', endpoint: 'http://127.0.0.1:9', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
  const compose = async (extra: Record<string, string>, builtCode?: string) => {
    const logger = new MemoryLogger();
    const env = readEnv({ AWS_LAMBDA_FUNCTION_NAME: 'rolegate-prod-api', ROLEGATE_TABLE: 't', ROLEGATE_CONFIG: config, ...extra });
    const app = await loadApp({ env, logger, dynamodb, ...(builtCode !== undefined ? { builtCode } : {}) });
    return { app, warnings: logger.lines.filter((l) => l.level === 'warn').map((l) => l.message).filter((m) => !m.startsWith('provisioner.mode is dry-run')) };
  };

  it('loads the copy ROLEGATE_VALIDATED_CONFIG names, quietly, when it matches its bundle\'s code', async () => {
    writeCopy(markedCopy());

    const { app, warnings } = await compose({ ROLEGATE_VALIDATED_CONFIG: copy }, CODE);

    expect(warnings).toEqual([]);
    expect(app.deps.settings.accounts[0]!.alias).toBe('from-the-copy');
  });

  it('warns, naming both files and why, when it passes the copy over', async () => {
    writeCopy(markedCopy({ identityRoleName: 'acme-identity' }));

    const { app, warnings } = await compose({ ROLEGATE_VALIDATED_CONFIG: copy }, CODE);

    expect(warnings).toEqual([
      `the validated copy of the configuration (${copy}) is not used: it was checked against other deployment values (identityRoleName); validating ${config} instead (serverless deploy ships a matching copy)`,
    ]);
    expect(app.deps.settings).toStrictEqual(loadSettings(config));
  });

  it('run from the sources (no bundle, so no fingerprint: a test, sls invoke local) never takes a copy on trust', async () => {
    expect(BUILT_CODE).toBeUndefined();
    writeCopy(markedCopy());

    const { app, warnings } = await compose({ ROLEGATE_VALIDATED_CONFIG: copy });

    expect(warnings).toEqual([expect.stringContaining('is not used: this code carries no fingerprint')]);
    expect(app.deps.settings.accounts[0]!.alias).toBe('staging');
  });
});
