import { readFileSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { CORE_SCHEMA, load as loadYaml } from 'js-yaml';
import type * as z from 'zod/mini';
import { ConfigError, type ErrorDetail } from './domain/errors';
import { settingsSchema, type Settings } from './domain/settings';

/*
 * The only module that reads process.env. Everything else receives values.
 */

export const DEFAULT_CONFIG_PATH = 'config/rolegate.example.yaml';
/** serverless.yml's secretsPath default: the functions may read SSM parameters under /rolegate/ only. */
export const DEFAULT_SECRETS_PATH = 'rolegate';

export interface RuntimeEnv {
  tableName: string;
  configPath: string;
  stage: string;
  /** True only outside Lambda with ROLEGATE_LOCAL=true: then the x-rolegate-principal header names the caller. */
  localIdentity: boolean;
  /** DynamoDB endpoint override (DynamoDB Local). The SDK's AWS_ENDPOINT_URL_* variables work as well. */
  dynamodbEndpoint?: string;
  region: string;
  logLevel: string;
  /** The worker is fed by the table's stream when deployed, in-process when local. */
  inProcessWorker: boolean;
  /** The SSM path every secret parameter lives under (ROLEGATE_SECRETS_PATH, the stack's secretsPath): the functions may read only it. */
  secretsPath: string;
  /** Local run only: secrets by name (ROLEGATE_LOCAL_SECRETS, JSON), instead of SSM. */
  localSecrets?: Record<string, string>;
}

export function readEnv(env: NodeJS.ProcessEnv = process.env): RuntimeEnv {
  const inLambda = Boolean(env.AWS_LAMBDA_FUNCTION_NAME);
  const local = env.ROLEGATE_LOCAL === 'true' && !inLambda;
  return {
    tableName: env.ROLEGATE_TABLE ?? 'rolegate',
    configPath: env.ROLEGATE_CONFIG ?? DEFAULT_CONFIG_PATH,
    stage: env.ROLEGATE_STAGE ?? 'local',
    // A deployed function never trusts the header, whatever its environment says.
    localIdentity: local,
    ...(env.ROLEGATE_DYNAMODB_ENDPOINT ? { dynamodbEndpoint: env.ROLEGATE_DYNAMODB_ENDPOINT } : {}),
    region: env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1',
    logLevel: env.ROLEGATE_LOG_LEVEL ?? env.POWERTOOLS_LOG_LEVEL ?? 'INFO',
    inProcessWorker: local,
    secretsPath: env.ROLEGATE_SECRETS_PATH ?? DEFAULT_SECRETS_PATH,
    ...(local && env.ROLEGATE_LOCAL_SECRETS ? { localSecrets: parseLocalSecrets(env.ROLEGATE_LOCAL_SECRETS) } : {}),
  };
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
 * Validates an already parsed configuration document. Secret parameters must
 * sit where the deployed functions may read them (serverless.yml grants
 * ssm:GetParameter on /<secretsPath>/* to the worker and /<secretsPath>/slack/*
 * to the Slack function): anywhere else IAM would refuse them at run time.
 */
export function parseSettings(doc: unknown, source = 'configuration', secretsPath = DEFAULT_SECRETS_PATH): Settings {
  const result = settingsSchema.safeParse(doc);
  const details = result.success ? secretsOutside(result.data, secretsPath) : issuesToDetails(result.error.issues);
  if (!result.success || details.length > 0) {
    throw new ConfigError(`${source} is not valid:\n${details.map((d) => `  - ${d.field}: ${d.reason}`).join('\n')}`, details);
  }
  return result.data;
}

function secretsOutside(settings: Settings, secretsPath: string): ErrorDetail[] {
  const details: ErrorDetail[] = [];
  const under = (field: string, name: string, prefix: string, who: string) => {
    if (!name.startsWith(prefix)) details.push({ field, reason: `must be under ${prefix}: ${who} may read only parameters there (secretsPath ${secretsPath})` });
  };
  if (settings.slack) {
    under('slack.signingSecretParameter', settings.slack.signingSecretParameter, `/${secretsPath}/slack/`, 'the Slack function');
    under('slack.botTokenParameter', settings.slack.botTokenParameter, `/${secretsPath}/slack/`, 'the Slack function');
  }
  settings.webhooks.forEach((w, i) => under(`webhooks.${i}.secretParameter`, w.secretParameter, `/${secretsPath}/`, 'the worker'));
  return details;
}

/** Reads and validates a YAML or JSON configuration file. */
export function loadSettings(path: string, secretsPath = DEFAULT_SECRETS_PATH): Settings {
  const full = resolve(path);
  let text: string;
  try {
    text = readFileSync(full, 'utf8');
  } catch (e) {
    throw new ConfigError(`Cannot read the configuration file ${full}: ${(e as Error).message}`);
  }
  let doc: unknown;
  try {
    // js-yaml's core schema is YAML 1.2 (no 1.1 surprises such as `no` read as false); it is a third of the
    // size of the `yaml` package and about 10 ms quicker to load at cold start.
    doc = extname(full) === '.json' ? JSON.parse(text) : loadYaml(text, { schema: CORE_SCHEMA, filename: full });
  } catch (e) {
    throw new ConfigError(`${full} is not valid ${extname(full) === '.json' ? 'JSON' : 'YAML'}: ${(e as Error).message}`);
  }
  return parseSettings(doc, full, secretsPath);
}
