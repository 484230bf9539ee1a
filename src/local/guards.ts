import type { Settings } from '../domain/settings';

/*
 * What keeps `npm start` a local tool. Its caller is whoever the
 * x-rolegate-principal header names, so it must never act on real AWS by
 * mistake, and must answer only requests meant for it.
 */

/** The variable that lets the local run use a configuration whose provisioner is `aws`. */
export const ALLOW_AWS_VARIABLE = 'ROLEGATE_LOCAL_ALLOW_AWS';

/**
 * Why the local run refuses to start on this configuration, or undefined.
 * With `provisioner.mode: aws` it would change IAM in real accounts, with
 * this machine's AWS credentials, for any caller its header names; that
 * takes an explicit `ROLEGATE_LOCAL_ALLOW_AWS=true`.
 */
export function localRunRefusal(mode: 'dry-run' | 'aws', env: NodeJS.ProcessEnv): string | undefined {
  if (mode !== 'aws' || env[ALLOW_AWS_VARIABLE] === 'true') return undefined;
  return [
    'This configuration has provisioner.mode: aws. Run locally, rolegate would change IAM in real accounts with',
    "this machine's AWS credentials, for anyone its x-rolegate-principal header names, which nothing authenticates.",
    `Use a dry-run configuration, or set ${ALLOW_AWS_VARIABLE}=true to do it on purpose (a sandbox account).`,
  ].join('\n');
}

/** The SSM parameters a configuration names: Slack's signing secret and bot token, each webhook's secret. */
export function secretNamesOf(s: Pick<Settings, 'slack' | 'webhooks'>): string[] {
  return [...(s.slack ? [s.slack.signingSecretParameter, s.slack.botTokenParameter] : []), ...s.webhooks.map((w) => w.secretParameter)];
}

/** The variable the local run takes secrets from (JSON, name → value) instead of SSM. */
export const LOCAL_SECRETS_VARIABLE = 'ROLEGATE_LOCAL_SECRETS';

/**
 * Why the local run refuses to start on a configuration that names secrets
 * (Slack's signing secret and bot token, webhook secrets), or undefined.
 * Without ROLEGATE_LOCAL_SECRETS it would read them from SSM Parameter
 * Store with this machine's AWS credentials, and post to Slack with the bot
 * token found there; that too takes ROLEGATE_LOCAL_ALLOW_AWS=true.
 */
export function localSecretsRefusal(secretNames: readonly string[], env: NodeJS.ProcessEnv): string | undefined {
  // Non-empty, as src/config.ts reads it: an empty value gives no secrets, and SSM would be read after all.
  if (secretNames.length === 0 || !!env[LOCAL_SECRETS_VARIABLE] || env[ALLOW_AWS_VARIABLE] === 'true') return undefined;
  return [
    `This configuration names secrets (${secretNames.join(', ')}). Run locally without ${LOCAL_SECRETS_VARIABLE}, rolegate would read them`,
    "from SSM Parameter Store with this machine's AWS credentials, and post to Slack with the bot token found there.",
    `Give them locally, ${LOCAL_SECRETS_VARIABLE}='{"${secretNames[0]}":"…"}', or set ${ALLOW_AWS_VARIABLE}=true to read them from SSM on purpose.`,
  ].join('\n');
}

/** The port from PORT: an integer from 1 to 65535, 3000 when unset. */
export function localPort(value: string | undefined): number {
  if (value === undefined || value === '') return 3000;
  const port = /^\d{1,5}$/.test(value) ? Number(value) : NaN;
  if (!(port >= 1 && port <= 65535)) throw new Error(`PORT must be a port number from 1 to 65535, not "${value}".`);
  return port;
}

/**
 * Whether a request's Host header names this server: 127.0.0.1 or localhost
 * on its port. A web page whose name an attacker re-points at 127.0.0.1 (DNS
 * rebinding) sends its own name, and is refused.
 */
export function isLocalHost(host: string | undefined, port: number): boolean {
  return host === `127.0.0.1:${port}` || host?.toLowerCase() === `localhost:${port}`;
}
