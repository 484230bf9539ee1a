import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { CORE_SCHEMA, JSON_SCHEMA, load as loadYaml } from 'js-yaml';
import { ConfigError, type ErrorDetail } from './domain/errors';
import { identityRoleUsed, settingsSchema, type Settings } from './domain/settings';
import { issuesToDetails } from './domain/zod-locale';
import {
  DEFAULT_DEPLOYMENT,
  DEPLOYMENT_ENV,
  DEPLOYMENT_KEYS,
  deploymentFromEnv,
  DRY_RUN_NOTICE,
  readConfigFile,
  sha256,
  VALIDATED_FORMAT,
  type ConfigFile,
  type Deployment,
  type ValidatedConfig,
} from './environment';

/*
 * The configuration file: parsed (js-yaml) and validated (the zod schemas of
 * domain/settings.ts, and the checks against the stack). The CLI, the local
 * run and packaging load it; a deployed function only when it has no
 * matching validated copy (environment.ts), and then on its own, lazily.
 */

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
  const result = settingsSchema.safeParse(doc);
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

/** What `validate-config` says of a valid configuration: its size, and whether it grants anything at all. */
export function summarizeSettings(s: Settings): string {
  const mode = s.provisioner.mode === 'dry-run' ? `provisioner dry-run: ${DRY_RUN_NOTICE}` : 'provisioner aws';
  return `${s.accounts.length} accounts, ${s.profiles.length} profiles, ${s.rules.length} rules; ${mode}`;
}

/** Reads and validates a YAML or JSON configuration file. */
export function loadSettings(path: string, deployment: Partial<Deployment> = {}): Settings {
  return settingsFromText(readConfigFile(path), deployment);
}

/** A configuration file's text, parsed and validated as loadSettings does. */
export function settingsFromText({ full, text }: ConfigFile, deployment: Partial<Deployment> = {}): Settings {
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

/** Validates a configuration file as loadSettings does, and returns what a deployment built from code `code` ships for its functions to load. */
export function validatedConfig(path: string, deployment: Partial<Deployment>, code: string): ValidatedConfig {
  const file = readConfigFile(path);
  const settings = settingsFromText(file, deployment);
  return { format: VALIDATED_FORMAT, sourceSha256: sha256(file.text), deployment: { ...DEFAULT_DEPLOYMENT, ...deployment }, code, settings };
}

/**
 * Why and where a configuration file does not parse, without its text: the
 * parsers quote the lines around the fault (js-yaml) or a run of the text
 * (V8's JSON.parse), which may be an account's ExternalId, and a broken
 * file fails every call of a Lambda function, whose error goes to the log as is.
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
