'use strict';

/*
 * A local Serverless plugin: before `serverless package` (and so `deploy`,
 * and `deploy function`) builds anything, checks the configuration file with
 * `validate-config` against this stack's params as resolved for this stage
 * (`--param` and `--stage` included), the same checks every function would
 * make at cold start. A configuration the functions would refuse then never
 * ships: deployed, it would stop them all, the sweeper's expiry included.
 *
 * What the check validated is written to VALIDATED (ROLEGATE_VALIDATED_CONFIG
 * in serverless.yml), which ships beside the file: the functions load it at
 * cold start instead of parsing and validating the file again, for as long
 * as it matches the file's text, the stack's values and the code they run
 * (src/environment.ts, functionSettings). It is written afresh at every
 * package, with the fingerprint of the code (scripts/code-fingerprint.js)
 * that this plugin also bakes into every bundle, as esbuild defines
 * __ROLEGATE_CODE__, before serverless-esbuild reads its options.
 */

const { spawnSync } = require('node:child_process');
const { codeFingerprint } = require('./code-fingerprint');
const { rmSync } = require('node:fs');
const { isAbsolute, join, relative, resolve } = require('node:path');

const ROOT = join(__dirname, '..');
/** Where the validated copy is written, relative to the service directory (serverless.yml ships and names the same path). */
const VALIDATED = '.rolegate/validated-config.json';
/** The environment the functions check the configuration against (serverless.yml, provider.environment; src/environment.ts DEPLOYMENT_ENV and the stage, kept in step by a test). */
const DEPLOYMENT_ENV = ['ROLEGATE_STAGE', 'ROLEGATE_SECRETS_PATH', 'ROLEGATE_PROVISIONER_ROLE_NAME', 'ROLEGATE_IDENTITY_ROLE_NAME', 'ROLEGATE_AUTH'];

class ValidateConfig {
  constructor(serverless, _options, utils) {
    this.serverless = serverless;
    this.log = utils && utils.log;
    this.hooks = {
      // Before serverless-esbuild's own initialize (this plugin is listed first), which reads the build options.
      initialize: () => this.defineCode(),
      'before:package:initialize': () => this.check(),
      'before:deploy:function:packageFunction': () => this.check(),
    };
  }

  /** Bakes the code fingerprint into every bundle this run builds. */
  defineCode() {
    const custom = (this.serverless.service.custom = this.serverless.service.custom || {});
    const esbuild = (custom.esbuild = custom.esbuild || {});
    this.code = codeFingerprint(ROOT);
    esbuild.define = { ...esbuild.define, ...esbuildDefine(this.code) };
  }

  check() {
    const environment = this.serverless.service.provider.environment || {};
    const file = String(environment.ROLEGATE_CONFIG || '').replace(/^\.\//, '');
    const missing = noConfigFile(file, environment.ROLEGATE_STAGE);
    if (missing) throw new this.serverless.classes.Error(missing);
    const organization = notAnOrganization(this.serverless.service);
    if (organization) throw new this.serverless.classes.Error(organization);
    const outside = outsideService(file);
    if (outside) throw new this.serverless.classes.Error(outside);
    // The region the stack deploys to (--region), which must be of the configuration's partition.
    const env = { ...process.env, ROLEGATE_CODE_FINGERPRINT: this.code || codeFingerprint(ROOT), ROLEGATE_STACK_REGION: String(this.serverless.service.provider.region || '') };
    for (const key of DEPLOYMENT_ENV) {
      if (typeof environment[key] === 'string') env[key] = environment[key];
      else delete env[key];
    }
    // A copy left from an earlier package must not ship if this check fails.
    rmSync(join(ROOT, VALIDATED), { force: true });
    const run = spawnSync(process.execPath, [require.resolve('tsx/cli'), join(ROOT, 'src', 'cli', 'main.ts'), 'validate-config', file, '--write', VALIDATED], { cwd: ROOT, env, encoding: 'utf8' });
    const said = `${run.stdout || ''}${run.stderr || ''}`.trim();
    if (run.status !== 0) {
      throw new this.serverless.classes.Error(`Not packaged: the configuration is not valid for this stack (stage ${environment.ROLEGATE_STAGE}), and every function would refuse it, at every call.\n${said || String(run.error)}`);
    }
    if (this.log) this.log.notice(said);
  }
}

/**
 * Only stage dev falls back on the example configuration (serverless.yml,
 * params.dev): another stage with no configFile would otherwise have shipped
 * the example (dry-run, made-up accounts) and stopped granting and removing
 * access in the real ones, with a warning at cold start its only sign.
 */
function noConfigFile(file, stage) {
  if (file !== '') return undefined;
  return `Not packaged: stage ${stage} names no configuration file. Give yours: --param="configFile=config/<your-org>.yaml" (only stage dev falls back on the example, which is dry-run with made-up accounts).`;
}

/**
 * organizationId (serverless.yml) as the template resolved it: a value that
 * is not an AWS Organizations id would deploy, and then refuse every
 * AssumeRole (expiries and revokes included) on aws:ResourceOrgID.
 */
function notAnOrganization(service) {
  const condition = service.resources && service.resources.Conditions && service.resources.Conditions.InOneOrganization;
  const id = condition && condition['Fn::Not'] && condition['Fn::Not'][0] && condition['Fn::Not'][0]['Fn::Equals'] && condition['Fn::Not'][0]['Fn::Equals'][0];
  if (id === undefined || id === '' || /^o-[a-z0-9]{10,32}$/.test(String(id))) return undefined;
  return `Not packaged: organizationId ${JSON.stringify(id)} is not an AWS Organizations id (o- and 10 to 32 lower-case letters or digits, as \`aws organizations describe-organization\` shows it): every AssumeRole, expiries and revokes included, would be refused.`;
}

/**
 * Serverless packages only files under the service directory, and the
 * functions read the configuration from their package: a configFile
 * elsewhere would pass the check above and ship without it, and every
 * function would then fail at every call.
 */
function outsideService(file) {
  const rel = relative(ROOT, resolve(ROOT, file));
  if (!isAbsolute(file) && rel !== '' && !rel.startsWith('..') && !isAbsolute(rel)) return undefined;
  return `Not packaged: configFile ${file} is not inside the service directory (${ROOT}); Serverless packages only files under it, so every function would start without its configuration. Copy the file under config/ and point configFile there (--param="configFile=config/<name>.yaml").`;
}

/** The esbuild `define` that gives a bundle its code fingerprint (src/config.ts, BUILT_CODE). */
function esbuildDefine(code) {
  return { __ROLEGATE_CODE__: JSON.stringify(code) };
}

ValidateConfig.DEPLOYMENT_ENV = DEPLOYMENT_ENV;
ValidateConfig.esbuildDefine = esbuildDefine;
ValidateConfig.outsideService = outsideService;
ValidateConfig.VALIDATED = VALIDATED;
module.exports = ValidateConfig;
