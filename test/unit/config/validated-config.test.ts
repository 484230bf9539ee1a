import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryLogger } from '../../../src/adapters/logger';
import { composeApp } from '../../../src/compose';
import { DEFAULT_DEPLOYMENT, loadDeployedSettings, loadSettings, readEnv, validatedConfig, type ValidatedConfig } from '../../../src/config';
import { ConfigError } from '../../../src/domain/errors';
import { EXAMPLE_CONFIG } from '../../helpers/settings';

/*
 * `serverless package` validates the configuration and ships what it
 * validated beside the file; a deployed function loads that copy at cold
 * start instead of validating the file again, but only while the copy was
 * made from the file's very text against the stack's very values. Otherwise
 * the file is validated as ever, and the function says why it passed the
 * copy over.
 */

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

/** loadDeployedSettings, with what it said of the copy. */
function load(deployment = {}) {
  const stale: string[] = [];
  const settings = loadDeployedSettings(config, copy, deployment, (why) => stale.push(why));
  return { settings, stale };
}

it('validates the file as loadSettings does, and records its hash and the deployment values it was checked against', () => {
  const v = validatedConfig(config, { secretsPath: 'acme/rolegate' });

  expect(v.format).toBe('rolegate-validated-config/1');
  expect(v.sourceSha256).toBe(createHash('sha256').update(EXAMPLE_TEXT, 'utf8').digest('hex'));
  expect(v.deployment).toEqual({ ...DEFAULT_DEPLOYMENT, secretsPath: 'acme/rolegate' });
  expect(v.settings).toEqual(loadSettings(config, { secretsPath: 'acme/rolegate' }));
  expect(() => validatedConfig(config, { auth: 'jwt' })).toThrow(ConfigError);
});

it('loads a matching copy as the settings, without a word, and they equal what validating the file gives', () => {
  writeCopy(validatedConfig(config));

  const { settings, stale } = load();

  expect(stale).toEqual([]);
  expect(settings).toEqual(loadSettings(config));
});

it('takes the settings from the copy, not from validating the file again, while the copy matches', () => {
  // Only a copy that is used can tell apart: the same text and values, other settings.
  const v = validatedConfig(config);
  v.settings.accounts[0]!.alias = 'from-the-copy';
  writeCopy(v);

  const { settings, stale } = load();

  expect(stale).toEqual([]);
  expect(settings.accounts[0]!.alias).toBe('from-the-copy');
});

describe('passes a copy over, says why, and validates the file instead', () => {
  it('a copy made from another text of the file: the file as edited since is what loads', () => {
    const v = validatedConfig(config);
    v.settings.accounts[0]!.alias = 'from-the-copy';
    writeCopy(v);
    writeFileSync(config, EXAMPLE_TEXT.replace('name: Staging', 'name: Staging (edited)'));

    const { settings, stale } = load();

    expect(stale).toEqual(['it was made from another text of the configuration file']);
    expect(settings).toEqual(loadSettings(config));
    expect(settings.accounts.map((a) => a.name)).toContain('Staging (edited)');
  });

  it.each<[string, (v: ValidatedConfig) => unknown, string]>([
    ['checked against other stack values', (v) => ({ ...v, deployment: { ...v.deployment, secretsPath: 'other', auth: 'jwt' } }), 'it was checked against other deployment values (secretsPath, auth)'],
    ['of another format', (v) => ({ ...v, format: 'rolegate-validated-config/0' }), 'it is not of format rolegate-validated-config/1'],
    ['holding no settings', (v) => ({ ...v, settings: null }), 'it holds no settings'],
    ['not JSON', () => '{"format": "rolegate-validated-config/1",', 'it cannot be read (not JSON)'],
    ['JSON null', () => 'null', 'it is not of format rolegate-validated-config/1'],
  ])('a copy %s', (_name, shape, why) => {
    // Settings of its own, so that using the copy would show.
    const v = validatedConfig(config);
    v.settings.accounts[0]!.alias = 'from-the-copy';
    writeCopy(shape(v));

    const { settings, stale } = load();

    expect(stale).toEqual([why]);
    expect(settings).toEqual(loadSettings(config));
    expect(settings.accounts[0]!.alias).toBe('staging');
  });

  it('a copy that is not there', () => {
    const { settings, stale } = load();

    expect(stale).toEqual(['it cannot be read (ENOENT)']);
    expect(settings).toEqual(loadSettings(config));
  });

  it('a copy made against the defaults, for a stack deployed with other values, which the file then fails', () => {
    writeCopy(validatedConfig(config));
    const stale: string[] = [];

    expect(() => loadDeployedSettings(config, copy, { auth: 'jwt' }, (why) => stale.push(why))).toThrow(/oidc: is required: the stack signs callers in with OIDC/);
    expect(stale).toEqual(['it was checked against other deployment values (auth)']);
  });

  it('a copy of a valid file edited since into an invalid one: the edit is refused, never the old copy used', () => {
    writeCopy(validatedConfig(config));
    writeFileSync(config, EXAMPLE_TEXT.replace('mode: dry-run', 'mode: sometimes'));

    expect(() => load()).toThrow(ConfigError);
  });
});

describe('a deployed function (composeApp)', () => {
  const dynamodb = new DynamoDBClient({ region: 'eu-west-1', endpoint: 'http://127.0.0.1:9', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
  const compose = (extra: Record<string, string>) => {
    const logger = new MemoryLogger();
    const app = composeApp({ env: readEnv({ AWS_LAMBDA_FUNCTION_NAME: 'rolegate-prod-api', ROLEGATE_TABLE: 't', ROLEGATE_CONFIG: config, ...extra }), logger, dynamodb });
    return { app, warnings: logger.lines.filter((l) => l.level === 'warn').map((l) => l.message).filter((m) => !m.startsWith('provisioner.mode is dry-run')) };
  };

  it('loads the copy ROLEGATE_VALIDATED_CONFIG names, quietly, when it matches', () => {
    const v = validatedConfig(config);
    v.settings.accounts[0]!.alias = 'from-the-copy';
    writeCopy(v);

    const { app, warnings } = compose({ ROLEGATE_VALIDATED_CONFIG: copy });

    expect(warnings).toEqual([]);
    expect(app.deps.settings.accounts[0]!.alias).toBe('from-the-copy');
  });

  it('warns, naming both files and why, when it passes the copy over', () => {
    writeCopy(validatedConfig(config, { identityRoleName: 'acme-identity' }));

    const { app, warnings } = compose({ ROLEGATE_VALIDATED_CONFIG: copy });

    expect(warnings).toEqual([
      `the validated copy of the configuration (${copy}) is not used: it was checked against other deployment values (identityRoleName); validating ${config} instead (package the stack again to ship a matching copy)`,
    ]);
    expect(app.deps.settings).toEqual(loadSettings(config));
  });

  it('without ROLEGATE_VALIDATED_CONFIG (the local run, a test) validates the file, and never reads a copy', () => {
    writeCopy('not json');

    const { app, warnings } = compose({});

    expect(warnings).toEqual([]);
    expect(app.deps.settings).toEqual(loadSettings(config));
  });
});
