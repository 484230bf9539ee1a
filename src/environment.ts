import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError } from './domain/errors';
import type { Settings } from './domain/settings';

/*
 * The only module that reads process.env (config.ts's toolDeployment reads it
 * for the CLI, given it). Everything else receives values.
 *
 * What a function needs at cold start, and nothing more: its environment,
 * and the validated copy of the configuration packaging ships. Parsing and
 * validating the configuration file itself (config.ts: js-yaml, the zod
 * schemas) loads only when no matching copy is there, so a deployed
 * function neither compiles nor initialises that code.
 */

export const DEFAULT_CONFIG_PATH = 'config/rolegate.example.yaml';
/**
 * What the stack lets the functions reach (serverless.yml's params, passed as
 * ROLEGATE_SECRETS_PATH, ROLEGATE_PROVISIONER_ROLE_NAME, ROLEGATE_IDENTITY_ROLE_NAME):
 * SSM parameters under /<secretsPath>/, and sts:AssumeRole on roles of these names only;
 * and how callers sign in (ROLEGATE_AUTH: iam, SigV4; jwt, OIDC tokens mapped by `oidc`).
 */
export interface Deployment {
  secretsPath: string;
  provisionerRoleName: string;
  identityRoleName: string;
  auth: string;
}
export const DEFAULT_DEPLOYMENT: Deployment = { secretsPath: 'rolegate', provisionerRoleName: 'rolegate-provisioner', identityRoleName: 'rolegate-identity-granter', auth: 'iam' };
/** The environment variable serverless.yml passes each deployment value (each stack param of the same name) as. */
export const DEPLOYMENT_ENV: Record<keyof Deployment, string> = {
  secretsPath: 'ROLEGATE_SECRETS_PATH',
  provisionerRoleName: 'ROLEGATE_PROVISIONER_ROLE_NAME',
  identityRoleName: 'ROLEGATE_IDENTITY_ROLE_NAME',
  auth: 'ROLEGATE_AUTH',
};
export const DEPLOYMENT_KEYS = Object.keys(DEPLOYMENT_ENV) as (keyof Deployment)[];

export interface RuntimeEnv {
  tableName: string;
  configPath: string;
  /** Deployed: the copy of the configuration `serverless package` validated (ROLEGATE_VALIDATED_CONFIG), loaded when it matches the file. */
  validatedConfigPath?: string;
  stage: string;
  /** True only outside Lambda with ROLEGATE_LOCAL=true: then the x-rolegate-principal header names the caller. */
  localIdentity: boolean;
  /** DynamoDB endpoint override (DynamoDB Local). The SDK's AWS_ENDPOINT_URL_* variables work as well. */
  dynamodbEndpoint?: string;
  region: string;
  logLevel: string;
  /** What the stack's IAM lets the functions reach; the configuration is checked against it. */
  deployment: Deployment;
  /** Local run only: secrets by name (ROLEGATE_LOCAL_SECRETS, JSON), instead of SSM. */
  localSecrets?: Record<string, string>;
}

export function readEnv(env: NodeJS.ProcessEnv = process.env): RuntimeEnv {
  const inLambda = Boolean(env.AWS_LAMBDA_FUNCTION_NAME);
  const local = env.ROLEGATE_LOCAL === 'true' && !inLambda;
  return {
    tableName: env.ROLEGATE_TABLE ?? 'rolegate',
    configPath: env.ROLEGATE_CONFIG ?? DEFAULT_CONFIG_PATH,
    ...(env.ROLEGATE_VALIDATED_CONFIG ? { validatedConfigPath: env.ROLEGATE_VALIDATED_CONFIG } : {}),
    stage: env.ROLEGATE_STAGE ?? 'local',
    // A deployed function never trusts the header, whatever its environment says.
    localIdentity: local,
    ...(env.ROLEGATE_DYNAMODB_ENDPOINT ? { dynamodbEndpoint: env.ROLEGATE_DYNAMODB_ENDPOINT } : {}),
    region: env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1',
    logLevel: env.ROLEGATE_LOG_LEVEL ?? env.POWERTOOLS_LOG_LEVEL ?? 'INFO',
    deployment: { ...DEFAULT_DEPLOYMENT, ...deploymentFromEnv(env) },
    ...(local && env.ROLEGATE_LOCAL_SECRETS ? { localSecrets: parseLocalSecrets(env.ROLEGATE_LOCAL_SECRETS) } : {}),
  };
}

/** The deployment values the environment sets (serverless.yml passes each stack param as one of these). */
export function deploymentFromEnv(env: NodeJS.ProcessEnv): Partial<Deployment> {
  const set: Partial<Deployment> = {};
  for (const key of DEPLOYMENT_KEYS) {
    const value = env[DEPLOYMENT_ENV[key]];
    if (value) set[key] = value;
  }
  return set;
}

function parseLocalSecrets(text: string): Record<string, string> {
  try {
    const value = JSON.parse(text) as unknown;
    if (value && typeof value === 'object' && !Array.isArray(value) && Object.values(value).every((v) => typeof v === 'string')) return value as Record<string, string>;
  } catch {
    // fall through
  }
  throw new ConfigError('ROLEGATE_LOCAL_SECRETS must be a JSON object of secret name → string value.');
}

/** What dry-run means for whoever runs it, said the same way by `validate-config` and by a deployed function at cold start. */
export const DRY_RUN_NOTICE = 'requests go ACTIVE with a plan, and nothing is sent to AWS; set provisioner.mode: aws to grant access';

/**
 * The configuration as `serverless package` validated it (validate-config
 * --write, from scripts/serverless-validate-config.js), shipped beside the
 * file for the functions to load at cold start without parsing and
 * validating it again (about 6 ms of the API's cold start). It holds what
 * the checks returned, and what they depended on: the SHA-256 of the text
 * they read, the deployment values they read it against, and the
 * fingerprint of the code that checked it (scripts/code-fingerprint.js).
 */
export interface ValidatedConfig {
  format: typeof VALIDATED_FORMAT;
  sourceSha256: string;
  deployment: Deployment;
  code: string;
  settings: Settings;
}
export const VALIDATED_FORMAT = 'rolegate-validated-config/1';

declare const __ROLEGATE_CODE__: string | undefined;
/** The code fingerprint packaging bakes into a function's bundle (esbuild `define`); undefined when run from the sources. */
export const BUILT_CODE: string | undefined = typeof __ROLEGATE_CODE__ === 'string' ? __ROLEGATE_CODE__ : undefined;

export const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

/**
 * A function's configuration. Deployed (`validatedPath` given): the
 * validated copy packaging wrote, when it was made from this very text (the
 * file's SHA-256), against these very deployment values, by this very code
 * (`code`, the fingerprint baked into the running bundle). Otherwise (run
 * from the sources, or the file edited or the stack's values changed since,
 * other code, no fingerprint, the copy missing or unreadable) the file,
 * parsed and validated now as loadSettings does, and `stale` is told why the
 * copy was passed over. The copy is never taken on its own word: one that
 * does not match is ignored. Only that fallback loads config.ts (js-yaml,
 * the zod schemas): with a matching copy the settings come back at once, not
 * as a promise, and nothing parses.
 */
export function functionSettings(path: string, validatedPath: string | undefined, deployment: Partial<Deployment>, code: string | undefined, stale: (why: string) => void): Settings | Promise<Settings> {
  const file = readConfigFile(path);
  if (validatedPath !== undefined) {
    const why = validatedCopyProblem(validatedPath, file.text, { ...DEFAULT_DEPLOYMENT, ...deployment }, code);
    if (typeof why !== 'string') return why.settings;
    stale(why);
  }
  return import('./config').then(({ settingsFromText }) => settingsFromText(file, deployment));
}

/** A configuration file's absolute path and text. */
export interface ConfigFile {
  full: string;
  text: string;
}

export function readConfigFile(path: string): ConfigFile {
  const full = resolve(path);
  try {
    return { full, text: readFileSync(full, 'utf8') };
  } catch (e) {
    throw new ConfigError(`Cannot read the configuration file ${full}: ${(e as Error).message}`);
  }
}

function validatedCopyProblem(validatedPath: string, text: string, deployment: Deployment, code: string | undefined): string | ValidatedConfig {
  if (code === undefined) return 'this code carries no fingerprint (it was not built by serverless package)';
  let copy: Partial<ValidatedConfig>;
  try {
    copy = JSON.parse(readFileSync(resolve(validatedPath), 'utf8')) as Partial<ValidatedConfig>;
  } catch (e) {
    return `it cannot be read (${(e as NodeJS.ErrnoException).code ?? 'not JSON'})`;
  }
  if (copy?.format !== VALIDATED_FORMAT) return `it is not of format ${VALIDATED_FORMAT}`;
  if (copy.code !== code) return 'it was validated by other code than this build of rolegate';
  if (copy.sourceSha256 !== sha256(text)) return 'it was made from another text of the configuration file';
  const against = copy.deployment as Partial<Deployment> | undefined;
  const changed = DEPLOYMENT_KEYS.filter((k) => against?.[k] !== deployment[k]);
  if (changed.length > 0) return `it was checked against other deployment values (${changed.join(', ')})`;
  if (!copy.settings || typeof copy.settings !== 'object') return 'it holds no settings';
  return copy as ValidatedConfig;
}
