import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { CORE_SCHEMA, JSON_SCHEMA, load as loadYaml } from 'js-yaml';
import type * as z from 'zod/mini';
import { ConfigError, type ErrorDetail } from './domain/errors';
import { identityRoleUsed, settingsSchema, type Settings } from './domain/settings';

/*
 * The only module that reads process.env. Everything else receives values.
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
const DEPLOYMENT_KEYS = Object.keys(DEPLOYMENT_ENV) as (keyof Deployment)[];

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
  /** The worker is fed by the table's stream when deployed, in-process when local. */
  inProcessWorker: boolean;
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
    inProcessWorker: local,
    deployment: { ...DEFAULT_DEPLOYMENT, ...deploymentFromEnv(env) },
    ...(local && env.ROLEGATE_LOCAL_SECRETS ? { localSecrets: parseLocalSecrets(env.ROLEGATE_LOCAL_SECRETS) } : {}),
  };
}

/**
 * What validate-config and plan check a configuration against, run from the
 * project: serverless.yml's params (`default`, then those of ROLEGATE_STAGE),
 * then any ROLEGATE_SECRETS_PATH, ROLEGATE_PROVISIONER_ROLE_NAME,
 * ROLEGATE_IDENTITY_ROLE_NAME or ROLEGATE_AUTH set. So a stack deployed with other names is
 * checked against them without anyone remembering to export them.
 */
export function toolDeployment(env: NodeJS.ProcessEnv = process.env, stackFile = 'serverless.yml'): Partial<Deployment> {
  const fromStack: Partial<Deployment> = {};
  let params: Record<string, Record<string, unknown> | undefined> = {};
  let text: string | undefined;
  try {
    text = readFileSync(stackFile, 'utf8');
  } catch (e) {
    // No stack file here (an installed CLI): the defaults and the environment decide.
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  if (text !== undefined) {
    // A stack file that does not parse must not be checked against the defaults without a word.
    try {
      params = ((loadYaml(text, { schema: CORE_SCHEMA }) as { params?: typeof params } | undefined)?.params ?? {}) as typeof params;
    } catch (e) {
      const names = Object.values(DEPLOYMENT_ENV);
      throw new ConfigError(`${stackFile} is not plain YAML (${(e as Error).message.split('\n')[0]}); set ${names.slice(0, -1).join(', ')} and ${names.at(-1)} instead.`);
    }
  }
  for (const scope of [params.default, env.ROLEGATE_STAGE ? params[env.ROLEGATE_STAGE] : undefined]) {
    for (const key of DEPLOYMENT_KEYS) {
      if (typeof scope?.[key] === 'string') fromStack[key] = scope[key] as string;
    }
  }
  return { ...fromStack, ...deploymentFromEnv(env) };
}

/** The deployment values the environment sets (serverless.yml passes each stack param as one of these). */
function deploymentFromEnv(env: NodeJS.ProcessEnv): Partial<Deployment> {
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

/** Turns zod issues into details that name the bad field by its path and say why. */
export function issuesToDetails(issues: readonly z.core.$ZodIssue[]): ErrorDetail[] {
  return issues.flatMap((issue) => {
    const path = issue.path.map(String).join('.');
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((k) => ({ field: path ? `${path}.${k}` : k, reason: 'is not a known field' }));
    }
    return [{ field: path || '(root)', reason: issue.message }];
  });
}

/**
 * Validates an already parsed configuration document, and checks it against
 * what the deployed functions may reach: secret parameters under
 * /<secretsPath>/ (the worker; the Slack function only /<secretsPath>/slack/),
 * provisioner and identity roles of the names the functions may assume (at
 * the root path). Anything else IAM would refuse at run time.
 */
export function parseSettings(doc: unknown, source = 'configuration', deployment: Partial<Deployment> = {}): Settings {
  const shape = shapeProblem(doc);
  if (shape) throw new ConfigError(`${source} is not valid:\n  - ${shape.field}: ${shape.reason}`, [shape]);
  const result = settingsSchema().safeParse(doc);
  const full = { ...DEFAULT_DEPLOYMENT, ...deployment };
  if (result.success && result.data.slack) {
    // The Slack secrets' default names follow the stack's secretsPath (the schema's defaults are the default path's).
    const given = (doc as { slack?: Record<string, unknown> }).slack ?? {};
    if (given.signingSecretParameter === undefined) result.data.slack.signingSecretParameter = `/${full.secretsPath}/slack/signing-secret`;
    if (given.botTokenParameter === undefined) result.data.slack.botTokenParameter = `/${full.secretsPath}/slack/bot-token`;
  }
  const details = result.success ? outsideDeployment(result.data, full) : issuesToDetails(result.error.issues);
  if (!result.success || details.length > 0) {
    throw new ConfigError(`${source} is not valid:\n${details.map((d) => `  - ${d.field}: ${d.reason}`).join('\n')}`, details);
  }
  return result.data;
}

/** Values a configuration may hold, counting each repeat of a YAML alias: thousands in practice. */
export const MAX_CONFIG_VALUES = 100_000;

/**
 * YAML aliases share one node between places: a handful of lines can stand
 * for billions of values (each level repeating the one below), which would
 * hang validation and a cold start, or for a value inside itself, which no
 * JSON holds. Both are refused, by where they are, before anything walks the
 * document, and so is a `__proto__` key, which validation would never see.
 */
function shapeProblem(doc: unknown): ErrorDetail | undefined {
  let values = 0;
  const inside = new Set<object>();
  const walk = (value: unknown, path: string): ErrorDetail | undefined => {
    if (++values > MAX_CONFIG_VALUES) {
      return { field: path || '(document)', reason: `expands to more than ${MAX_CONFIG_VALUES} values (YAML aliases repeating a part of the document): write it out plainly` };
    }
    if (value === null || typeof value !== 'object') return undefined;
    if (inside.has(value)) return { field: path || '(document)', reason: 'refers to itself (a YAML anchor used inside itself): no JSON, and no policy, can hold it' };
    inside.add(value);
    for (const [key, child] of Object.entries(value)) {
      // The parsed document drops this key (it reads as the object's prototype): whatever it holds would vanish in
      // silence, a policy statement's condition with it.
      if (key === '__proto__') return { field: path ? `${path}.${key}` : key, reason: 'is not a key a configuration may use: it would be dropped without a word' };
      const problem = walk(child, path ? `${path}.${key}` : key);
      if (problem) return problem;
    }
    inside.delete(value);
    return undefined;
  };
  return walk(doc, '');
}

function outsideDeployment(settings: Settings, deployment: Deployment): ErrorDetail[] {
  const { secretsPath, provisionerRoleName, identityRoleName, auth } = deployment;
  const details: ErrorDetail[] = [];
  // With auth=jwt API Gateway admits only OIDC tokens, and only the oidc section maps them to principals: every call would be refused.
  if (auth === 'jwt' && !settings.oidc) {
    details.push({ field: 'oidc', reason: 'is required: the stack signs callers in with OIDC (auth=jwt), and only oidc.principals maps a token to a principal' });
  } else if (auth !== 'iam' && auth !== 'jwt') {
    details.push({ field: '(stack) auth', reason: `must be iam or jwt (is ${JSON.stringify(auth)})` });
  }
  // The stack writes parameter/<secretsPath>/… into IAM: a leading or trailing slash would grant a path no parameter has.
  if (!/^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/.test(secretsPath)) {
    details.push({ field: '(stack) secretsPath', reason: `must be a parameter path without leading or trailing slash, as rolegate or acme/rolegate (is ${JSON.stringify(secretsPath)})` });
  }
  const under = (field: string, name: string, prefix: string, who: string) => {
    if (!name.startsWith(prefix)) details.push({ field, reason: `must be under ${prefix}: ${who} may read only parameters there (secretsPath ${secretsPath})` });
  };
  // The worker's grant denies names under this prefix: the signing secret must be there, and what the worker reads must not.
  const signing = `/${secretsPath}/slack/signing-secret`;
  const notSigning = (field: string, name: string) => {
    if (name.startsWith(signing)) details.push({ field, reason: `must not start with ${signing}: the worker, which reads it, may never read names there (the Slack signing secret's)` });
  };
  if (settings.slack) {
    if (!settings.slack.signingSecretParameter.startsWith(signing)) {
      details.push({ field: 'slack.signingSecretParameter', reason: `must start with ${signing}: only the Slack function may read it, and the worker's grant denies names there only (secretsPath ${secretsPath})` });
    }
    under('slack.botTokenParameter', settings.slack.botTokenParameter, `/${secretsPath}/slack/`, 'the Slack function');
    notSigning('slack.botTokenParameter', settings.slack.botTokenParameter);
  }
  settings.webhooks.forEach((w, i) => {
    under(`webhooks.${i}.secretParameter`, w.secretParameter, `/${secretsPath}/`, 'the worker');
    // The Slack function, the one facing the internet, may read everything under slack/: a webhook's key stays out of its reach.
    if (w.secretParameter.startsWith(`/${secretsPath}/slack/`)) {
      details.push({ field: `webhooks.${i}.secretParameter`, reason: `must not be under /${secretsPath}/slack/: the Slack function, which faces the internet, may read names there` });
    } else notSigning(`webhooks.${i}.secretParameter`, w.secretParameter);
  });
  const named = (field: string, arn: string, roleName: string, param: string) => {
    if (arn.slice(arn.indexOf(':role/') + ':role/'.length) !== roleName) {
      details.push({ field, reason: `must name the role ${roleName} (no path): rolegate's functions may assume only that name (the stack's ${param})` });
    }
  };
  settings.accounts.forEach((a, i) => named(`accounts.${i}.provisionerRoleArn`, a.provisionerRoleArn, provisionerRoleName, 'provisionerRoleName'));
  if (settings.provisioner.identityRoleArn && identityRoleUsed(settings)) named('provisioner.identityRoleArn', settings.provisioner.identityRoleArn, identityRoleName, 'identityRoleName');
  return details;
}

/** What dry-run means for whoever runs it, said the same way by `validate-config` and by a deployed function at cold start. */
export const DRY_RUN_NOTICE = 'requests go ACTIVE with a plan, and nothing is sent to AWS; set provisioner.mode: aws to grant access';

/** What `validate-config` says of a valid configuration: its size, and whether it grants anything at all. */
export function summarizeSettings(s: Settings): string {
  const mode = s.provisioner.mode === 'dry-run' ? `provisioner dry-run: ${DRY_RUN_NOTICE}` : 'provisioner aws';
  return `${s.accounts.length} accounts, ${s.profiles.length} profiles, ${s.rules.length} rules; ${mode}`;
}

/** Reads and validates a YAML or JSON configuration file. */
export function loadSettings(path: string, deployment: Partial<Deployment> = {}): Settings {
  const { full, text } = readConfigFile(path);
  return settingsFromText(full, text, deployment);
}

function readConfigFile(path: string): { full: string; text: string } {
  const full = resolve(path);
  try {
    return { full, text: readFileSync(full, 'utf8') };
  } catch (e) {
    throw new ConfigError(`Cannot read the configuration file ${full}: ${(e as Error).message}`);
  }
}

function settingsFromText(full: string, text: string, deployment: Partial<Deployment>): Settings {
  let doc: unknown;
  try {
    // js-yaml's core schema is YAML 1.2 (no 1.1 surprises such as `no` read as false); it is a third of the
    // size of the `yaml` package and about 10 ms quicker to load at cold start.
    if (extname(full) === '.json') {
      doc = JSON.parse(text);
      // JSON.parse keeps the last of two equal keys, so `"autoApprove": false, …, "autoApprove": true` would read as
      // true to rolegate and false to a reviewer. Any JSON is YAML, and js-yaml refuses duplicate keys.
      loadYaml(text, { schema: JSON_SCHEMA, filename: full });
    } else {
      doc = loadYaml(text, { schema: CORE_SCHEMA, filename: full });
    }
  } catch (e) {
    throw new ConfigError(`${full} is not valid ${extname(full) === '.json' ? 'JSON' : 'YAML'}: ${whereParsingFailed(e, text)}`);
  }
  return parseSettings(doc, full, deployment);
}

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
const VALIDATED_FORMAT = 'rolegate-validated-config/1';

declare const __ROLEGATE_CODE__: string | undefined;
/** The code fingerprint packaging bakes into a function's bundle (esbuild `define`); undefined when run from the sources. */
export const BUILT_CODE: string | undefined = typeof __ROLEGATE_CODE__ === 'string' ? __ROLEGATE_CODE__ : undefined;

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

/** Validates a configuration file as loadSettings does, and returns what a deployment built from code `code` ships for its functions to load. */
export function validatedConfig(path: string, deployment: Partial<Deployment>, code: string): ValidatedConfig {
  const { full, text } = readConfigFile(path);
  const settings = settingsFromText(full, text, deployment);
  return { format: VALIDATED_FORMAT, sourceSha256: sha256(text), deployment: { ...DEFAULT_DEPLOYMENT, ...deployment }, code, settings };
}

/**
 * A deployed function's configuration: the validated copy packaging wrote,
 * when it was made from this very text (the file's SHA-256), against these
 * very deployment values, by this very code (`code`, the fingerprint baked
 * into the running bundle); otherwise (the file edited or the stack's values
 * changed since, other code, no fingerprint, the copy missing or unreadable)
 * the file, validated now as loadSettings does, and `stale` is told why the
 * copy was passed over. The copy is never taken on its own word: one that
 * does not match is ignored.
 */
export function loadDeployedSettings(path: string, validatedPath: string, deployment: Partial<Deployment>, code: string | undefined, stale: (why: string) => void): Settings {
  const { full, text } = readConfigFile(path);
  const why = validatedCopyProblem(validatedPath, text, { ...DEFAULT_DEPLOYMENT, ...deployment }, code);
  if (typeof why !== 'string') return why.settings;
  stale(why);
  return settingsFromText(full, text, deployment);
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

/**
 * Why and where a configuration file does not parse, without its text: the
 * parsers quote the lines around the fault (js-yaml) or a run of the text
 * (V8's JSON.parse), which may be an account's ExternalId, and a broken
 * file fails a Lambda's cold start, whose message goes to the log as is.
 */
export function whereParsingFailed(e: unknown, text: string): string {
  const yaml = e as { reason?: unknown; mark?: { line?: unknown; column?: unknown } };
  if (typeof yaml.reason === 'string' && typeof yaml.mark?.line === 'number' && typeof yaml.mark.column === 'number') {
    return `${yaml.reason} at line ${yaml.mark.line + 1}, column ${yaml.mark.column + 1}`;
  }
  // js-yaml's own reasons without a position (an empty file, two documents in one) quote nothing of the file.
  if (typeof yaml.reason === 'string' && e instanceof Error && e.name === 'YAMLException') return yaml.reason;
  const message = e instanceof Error ? e.message : '';
  const at = /at position (\d+)/.exec(message);
  if (at) {
    const before = text.slice(0, Number(at[1])).split('\n');
    return `syntax error at line ${before.length}, column ${before.at(-1)!.length + 1}`;
  }
  return /end of JSON input/.test(message) ? 'it ends before the document does' : 'syntax error (an unexpected character)';
}
