import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toolDeployment } from '../../../src/config';
import { DEPLOYMENT_ENV } from '../../../src/environment';
import { deploymentCode } from '../../../scripts/deployment-build';

/*
 * validate-config and plan check a configuration against the stack it will
 * run in: serverless.yml's params, a stage's over the defaults, and explicit
 * ROLEGATE_* variables over both.
 */

describe('the deployment the configuration tools check against', () => {
  let dir: string;
  let stack: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'rolegate-stack-'));
    stack = join(dir, 'serverless.yml');
    writeFileSync(
      stack,
      [
        'service: rolegate',
        'params:',
        '  default:',
        '    secretsPath: rolegate',
        '    provisionerRoleName: acme-provisioner',
        '    identityRoleName: rolegate-identity-granter',
        '  prod:',
        '    secretsPath: rolegate-prod',
        '    auth: jwt',
        'provider:',
        "  region: ${opt:region, 'eu-west-1'}",
      ].join('\n'),
    );
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("reads the project's serverless.yml params", () => {
    expect(toolDeployment({}, stack)).toEqual({ secretsPath: 'rolegate', provisionerRoleName: 'acme-provisioner', identityRoleName: 'rolegate-identity-granter' });
  });

  it("takes ROLEGATE_STAGE's params over the defaults, and explicit variables over both", () => {
    expect(toolDeployment({ ROLEGATE_STAGE: 'prod' }, stack)).toMatchObject({ secretsPath: 'rolegate-prod', provisionerRoleName: 'acme-provisioner', auth: 'jwt' });
    expect(toolDeployment({ ROLEGATE_STAGE: 'prod', ROLEGATE_AUTH: 'iam' }, stack)).toMatchObject({ auth: 'iam' });
    expect(toolDeployment({ ROLEGATE_STAGE: 'prod', ROLEGATE_SECRETS_PATH: 'other', ROLEGATE_IDENTITY_ROLE_NAME: 'granter' }, stack)).toEqual({
      secretsPath: 'other',
      provisionerRoleName: 'acme-provisioner',
      identityRoleName: 'granter',
      auth: 'jwt',
    });
  });

  it('falls back to the variables alone without a stack file (an installed CLI)', () => {
    expect(toolDeployment({ ROLEGATE_PROVISIONER_ROLE_NAME: 'p' }, join(dir, 'missing.yml'))).toEqual({ provisionerRoleName: 'p' });
  });

  it('refuses a stack file it cannot read as plain YAML rather than check against the defaults', () => {
    writeFileSync(stack, 'params:\n  default:\n    secretsPath: !Ref Nope\n');
    expect(() => toolDeployment({}, stack)).toThrow(`${stack} is not plain YAML`);
    expect(() => toolDeployment({}, stack)).toThrow('set ROLEGATE_SECRETS_PATH, ROLEGATE_PROVISIONER_ROLE_NAME, ROLEGATE_IDENTITY_ROLE_NAME and ROLEGATE_AUTH instead.');
  });

  it('takes each deployment value from its own variable, and an empty one as unset', () => {
    const env = { ROLEGATE_SECRETS_PATH: 's', ROLEGATE_PROVISIONER_ROLE_NAME: 'p', ROLEGATE_IDENTITY_ROLE_NAME: 'i', ROLEGATE_AUTH: 'jwt' };
    expect(toolDeployment(env, join(dir, 'missing.yml'))).toEqual({ secretsPath: 's', provisionerRoleName: 'p', identityRoleName: 'i', auth: 'jwt' });
    expect(toolDeployment({ ...env, ROLEGATE_AUTH: '' }, join(dir, 'missing.yml'))).toEqual({ secretsPath: 's', provisionerRoleName: 'p', identityRoleName: 'i' });
  });

  it("reads this project's own serverless.yml as the deploy will", () => {
    expect(toolDeployment({}, join(__dirname, '..', '..', '..', 'serverless.yml'))).toEqual({ secretsPath: 'rolegate', provisionerRoleName: 'rolegate-provisioner', identityRoleName: 'rolegate-identity-granter', auth: 'iam' });
  });
});

it('the packaging check passes validate-config every deployment value the functions get, and the stage', () => {
  // A plain-JS Serverless plugin cannot import config.ts; this keeps its copy of the names in step.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const plugin = require('../../../scripts/serverless-validate-config.js') as { DEPLOYMENT_ENV: string[] };
  expect([...plugin.DEPLOYMENT_ENV].sort()).toEqual(['ROLEGATE_STAGE', ...Object.values(DEPLOYMENT_ENV)].sort());
});

it("refuses to package a configFile outside the service directory, which Serverless would leave out of every function's package", () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const plugin = require('../../../scripts/serverless-validate-config.js') as { outsideService: (file: string) => string | undefined };
  expect(plugin.outsideService('config/rolegate.example.yaml')).toBeUndefined();
  expect(plugin.outsideService('config/../config/acme.yaml')).toBeUndefined();
  for (const file of ['../cfg/acme.yaml', '/etc/rolegate/acme.yaml', 'config/../../acme.yaml']) {
    expect(plugin.outsideService(file)).toMatch(new RegExp(`^Not packaged: configFile ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is not inside the service directory .*Copy the file under config/`));
  }
});

it('stops the package when the configFile lies outside the project, before validating or building anything', () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const Plugin = require('../../../scripts/serverless-validate-config.js') as new (sls: unknown, o: unknown, u: unknown) => { check(): void };
  const serverless = { service: { provider: { environment: { ROLEGATE_CONFIG: './../cfg/acme.yaml', ROLEGATE_STAGE: 'ci' } } }, classes: { Error } };
  expect(() => new Plugin(serverless, {}, {}).check()).toThrow(/^Not packaged: configFile \.\.\/cfg\/acme\.yaml is not inside the service directory/);
});

it('checks the configuration before every packaging, deploy function included, and bakes the code fingerprint into the bundles first', () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const Plugin = require('../../../scripts/serverless-validate-config.js') as new (sls: unknown, o: unknown, u: unknown) => { hooks: Record<string, () => unknown> };
  const serverless = { service: { custom: { esbuild: { bundle: true, define: { 'process.env.KEEP': '"1"' } } }, provider: { environment: {} } }, classes: { Error } };
  const plugin = new Plugin(serverless, {}, {});

  expect(Object.keys(plugin.hooks).sort()).toEqual(['before:deploy:function:packageFunction', 'before:package:initialize', 'initialize']);
  plugin.hooks.initialize!();

  expect(serverless.service.custom.esbuild).toEqual({ bundle: true, define: { 'process.env.KEEP': '"1"', __ROLEGATE_CODE__: JSON.stringify(deploymentCode()) } });
  expect(deploymentCode()).toMatch(/^[0-9a-f]{64}$/);
});

it('fingerprints the code by every file under src/ (name and content) and the lockfile, and by nothing else', () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { codeFingerprint } = require('../../../scripts/code-fingerprint.js') as { codeFingerprint: (root: string) => string };
  const root = mkdtempSync(join(tmpdir(), 'rolegate-code-'));
  try {
    mkdirSync(join(root, 'src', 'domain'), { recursive: true });
    writeFileSync(join(root, 'package-lock.json'), '{"lockfileVersion": 3}');
    writeFileSync(join(root, 'src', 'config.ts'), 'export const a = 1;');
    writeFileSync(join(root, 'src', 'domain', 'settings.ts'), 'export const b = 2;');
    const seen = [codeFingerprint(root)];
    const changes = [
      () => writeFileSync(join(root, 'src', 'domain', 'settings.ts'), 'export const b = 3;'),
      () => renameSync(join(root, 'src', 'config.ts'), join(root, 'src', 'config2.ts')),
      () => writeFileSync(join(root, 'src', 'domain', 'new.ts'), ''),
      () => writeFileSync(join(root, 'package-lock.json'), '{"lockfileVersion": 3, "packages": {}}'),
    ];
    for (const change of changes) {
      change();
      seen.push(codeFingerprint(root));
    }
    expect(new Set(seen).size).toBe(seen.length);
    // Files elsewhere (tests, docs) are no part of what the functions run.
    writeFileSync(join(root, 'README.md'), 'docs');
    expect(codeFingerprint(root)).toBe(seen.at(-1));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
