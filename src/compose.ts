import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createDocumentClient } from './adapters/dynamodb/client';
import { DynamoGrantStore } from './adapters/dynamodb/grant-store';
import { DynamoRequestStore } from './adapters/dynamodb/request-store';
import { DYNAMODB_CALL_BOUNDS, SSM_CALL_BOUNDS, SSM_MAX_ATTEMPTS } from './adapters/aws/call-bounds';
import { createLogger } from './adapters/logger';
import { createMetrics, type EmfMetrics } from './adapters/metrics';
import { CompositeNotifier, LogNotifier } from './adapters/notifiers';
import { InProcessQueue, streamQueue } from './adapters/queues';
import { systemClock, ulidIds } from './adapters/system';
import { DynamoSlackStore, type SlackJob } from './adapters/dynamodb/slack-store';
import { StaticSecretSource, type SecretSource } from './adapters/secrets/secret-source';
import type { SlackApi } from './adapters/slack/slack-client';
import { BUILT_CODE, DRY_RUN_NOTICE, functionSettings, readEnv, type RuntimeEnv } from './environment';
import type { Clock, IdentityGranter, Logger, Notifier, Provisioner } from './domain/ports';
import type { AccountSettings, Settings } from './domain/settings';
import type { ProvisioningDeps } from './domain/use-cases/provisionRequest';
import type { SlackJobRunner } from './handlers/slack/run-job';

/*
 * The composition root: the only place that constructs SDK clients and
 * adapters, once per cold start.
 */

export interface App {
  env: RuntimeEnv;
  logger: Logger;
  deps: ProvisioningDeps;
  /** Present when the configuration has a slack section. */
  slack?: { api: SlackApi; store: DynamoSlackStore; signingSecret: () => Promise<string> };
  /** Local run: Slack jobs run in-process (deployed: the table's stream feeds the worker). */
  runSlackJobInProcess?: (job: SlackJob) => void;
  /** Writes this invocation's metrics (one EMF line; nothing when it counted nothing); call at the end of every invocation. */
  flushMetrics: () => void;
  /** Local run: wait for in-process provisioning to finish. */
  drain?: () => Promise<void>;
}

/**
 * What the local run does in its own process that a deployment's worker does
 * from the table's stream: provisioning an approved request, running a Slack
 * job. The local run passes it (src/local/in-process.ts); a deployed
 * function never does, so none of its bundles holds either as a chunk of
 * its own.
 */
export interface InProcessWork {
  provision: (deps: ProvisioningDeps, requestId: string) => Promise<unknown>;
  runSlackJob: (runner: SlackJobRunner, job: SlackJob) => Promise<unknown>;
}

export interface ComposeOptions {
  env?: RuntimeEnv;
  settings: Settings;
  /** The local run: notifications in-line, provisioning and Slack jobs in-process, no EMF metrics, no dry-run warning. */
  inProcess?: InProcessWork;
  clock?: Clock;
  logger?: Logger;
  notifier?: Notifier;
  dynamodb?: DynamoDBClient;
}

export interface LoadOptions extends Omit<ComposeOptions, 'settings'> {
  /** Tests: the code fingerprint to take a validated copy of the configuration by (deployed: the bundle's own). */
  builtCode?: string;
}

/** The app of a deployed function: its configuration read as deployed (settingsOf), then composed. */
export async function loadApp(options: LoadOptions = {}): Promise<App> {
  const env = options.env ?? readEnv();
  const logger = options.logger ?? createLogger('rolegate', env.logLevel);
  return composeApp({ ...options, env, logger, settings: await settingsOf(env, options.builtCode ?? BUILT_CODE, logger) });
}

export function composeApp(options: ComposeOptions): App {
  const env = options.env ?? readEnv();
  const logger = options.logger ?? createLogger('rolegate', env.logLevel);
  const { settings, inProcess } = options;
  if (settings.provisioner.mode === 'dry-run' && !inProcess) {
    // Deployed with the default mode (or the example configuration): every request would read as granted.
    logger.warn(`provisioner.mode is dry-run: ${DRY_RUN_NOTICE}`);
  }
  const clock = options.clock ?? systemClock;
  const ids = ulidIds();

  const dynamodb =
    options.dynamodb ??
    new DynamoDBClient({
      ...(env.dynamodbEndpoint ? { endpoint: env.dynamodbEndpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } } : {}),
      region: env.region,
      requestHandler: DYNAMODB_CALL_BOUNDS,
    });
  const doc = createDocumentClient(dynamodb);

  const { provisioner, identity } = provisioning(settings, env, clock);
  const secrets = secretSource(env, logger);
  const slackStore = new DynamoSlackStore(doc, env.tableName, () => clock.now());
  const slack = settings.slack
    ? {
        api: lazySlackApi(async () => new (await import('./adapters/slack/slack-client')).SlackClient({ token: () => secrets.get(settings.slack!.botTokenParameter) })),
        store: slackStore,
        signingSecret: () => secrets.get(settings.slack!.signingSecretParameter),
      }
    : undefined;
  // Slack and webhook code loads with the first notification: deployed, only the worker sends any (the
  // others leave them to the table's stream), so the API, sweeper and reconciler never load it.
  const notifier =
    options.notifier ??
    lazyNotifier(async () => {
      const [{ SlackNotifier }, { WebhookNotifier }] = await Promise.all([import('./adapters/slack/slack-notifier'), import('./adapters/webhook/webhook-notifier')]);
      return new CompositeNotifier([
        new LogNotifier(logger),
        ...(slack ? [new SlackNotifier({ slack: slack.api, settings, messages: slackStore })] : []),
        ...(settings.webhooks.length ? [new WebhookNotifier({ webhooks: settings.webhooks, secrets, clock, logger })] : []),
      ]);
    });

  // Deployed only: the local run has no CloudWatch to read EMF lines.
  const metrics: EmfMetrics | undefined = inProcess ? undefined : createMetrics(env.stage);
  let queue: InProcessQueue | undefined;
  const deps: ProvisioningDeps = {
    settings,
    requests: new DynamoRequestStore(doc, env.tableName),
    grants: new DynamoGrantStore(doc, env.tableName),
    clock,
    ids,
    logger,
    notifier,
    // Deployed, notifications go out from the table's stream (the worker); locally, in-line.
    notifications: inProcess ? 'inline' : 'stream',
    provisioner,
    ...(identity ? { identity } : {}),
    ...(metrics ? { metrics } : {}),
    // The local run provisions in-process; deployed, the worker does (its own import), so the API never loads it.
    queue: inProcess ? (queue = new InProcessQueue((id) => inProcess.provision(deps, id), logger)) : streamQueue,
  };
  const app: App = { env, logger, deps, flushMetrics: () => metrics?.flush(), ...(slack ? { slack } : {}), ...(queue ? { drain: () => queue!.drain() } : {}) };
  if (inProcess && slack) {
    app.runSlackJobInProcess = (job) => {
      setImmediate(() => {
        inProcess.runSlackJob({ deps, slack: slack.api, jobs: slack.store }, job).catch((e) => logger.error('slack job failed', { error: String(e) }));
      });
    };
  }
  return app;
}

/**
 * The configuration; deployed, the copy packaging validated when it still
 * matches the file. Only without one is the file parsed and validated here,
 * and only then does the code that does it (config.ts: js-yaml, the zod
 * schemas) load: a function with a matching copy never compiles it.
 */
function settingsOf(env: RuntimeEnv, code: string | undefined, logger: Logger): Settings | Promise<Settings> {
  return functionSettings(env.configPath, env.validatedConfigPath, env.deployment, code, (why) =>
    logger.warn(`the validated copy of the configuration (${env.validatedConfigPath}) is not used: ${why}; validating ${env.configPath} instead (serverless deploy ships a matching copy)`),
  );
}

/**
 * Secrets (Slack signing secret, bot token, webhook secrets) come from SSM
 * Parameter Store, each kept five minutes (SsmSecretSource). The local run may take them
 * from ROLEGATE_LOCAL_SECRETS (JSON name → value) instead.
 */
function secretSource(env: RuntimeEnv, logger: Logger): SecretSource {
  if (env.localSecrets) return new StaticSecretSource(env.localSecrets);
  // The SSM client loads on the first secret read, not at cold start.
  const ssm = once(() =>
    Promise.all([import('@aws-sdk/client-ssm'), import('./adapters/secrets/ssm-secrets')]).then(
      ([sdk, m]) => new m.SsmSecretSource(new sdk.SSMClient({ region: env.region, maxAttempts: SSM_MAX_ATTEMPTS, requestHandler: SSM_CALL_BOUNDS }), { onStale: (why) => logger.warn('an earlier secret value is in use: SSM could not be read', { why }) }),
    ),
  );
  return { get: async (name) => (await ssm()).get(name) };
}

function provisioning(settings: Settings, env: RuntimeEnv, clock: Clock): Pick<ProvisioningDeps, 'provisioner' | 'identity'> {
  // Both load on first use, so no function pays for the IAM and STS clients (or the dry-run
  // planner, which shares their command builders) at cold start.
  const dryRun = settings.provisioner.mode === 'dry-run';
  const load = once(async (): Promise<{ provisioner: Provisioner; identity: IdentityGranter }> => {
    if (dryRun) {
      const m = await import('./adapters/aws/dry-run');
      return { provisioner: new m.DryRunProvisioner(settings), identity: new m.DryRunIdentityGranter(settings) };
    }
    return (await import('./adapters/aws/factory')).createAwsProvisioning(settings, env.region, clock);
  });
  return {
    provisioner: {
      // Every argument forwarded: remove()'s options tell a role someone else owns from one rolegate lost track of.
      apply: async (...args) => (await load()).provisioner.apply(...args),
      remove: async (...args) => (await load()).provisioner.remove(...args),
      // A dry run reads no account, so it has nothing to reconcile.
      ...(dryRun
        ? {}
        : {
            listManagedRoleNames: async (account: AccountSettings) => (await load()).provisioner.listManagedRoleNames!(account),
            describeManagedRole: async (account: AccountSettings, roleName: string) => (await load()).provisioner.describeManagedRole!(account, roleName),
          }),
    },
    identity: {
      grant: async (...args) => (await load()).identity.grant(...args),
      revoke: async (...args) => (await load()).identity.revoke(...args),
    },
  };
}

/** Runs a loader once and shares its promise (a failed load is retried next time). */
function once<T>(load: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () => {
    pending ??= load().catch((e) => {
      pending = undefined;
      throw e;
    });
    return pending;
  };
}

/** The app of this cold start; one that failed to load (a configuration that does not validate) is loaded again by the next call. */
export const getApp: () => Promise<App> = once(() => loadApp());

/**
 * A logger for an entry point whose app did not load (its own logger did not
 * load with it): the reason goes to the log, as the app's logger would write it.
 */
export function bootLogger(): Logger {
  let level = 'INFO';
  try {
    level = readEnv().logLevel;
  } catch {
    // An environment that does not read (the local run's secrets) keeps the default level.
  }
  return createLogger('rolegate', level);
}

/**
 * What an entry point builds from the app, started at cold start (the API
 * and the Slack function compose as they load, so their first call finds
 * them ready); a failed load is retried by the next call, which then meets
 * its error.
 */
export function atColdStart<T>(build: (app: App) => T): () => Promise<T> {
  const built = once(async () => build(await getApp()));
  // Its failure is the first call's to meet, not an unhandled rejection.
  built().catch(() => undefined);
  return built;
}

/** A notifier built on its first use (its module loaded then, and once). */
function lazyNotifier(load: () => Promise<Notifier>): Notifier {
  const notifier = once(load);
  return { notify: async (n) => (await notifier()).notify(n) };
}

/** The Slack Web API client, loaded on its first call: most functions of the stack never call it. */
function lazySlackApi(load: () => Promise<SlackApi>): SlackApi {
  const api = once(load);
  return {
    postMessage: async (channel, message) => (await api()).postMessage(channel, message),
    updateMessage: async (ref, message) => (await api()).updateMessage(ref, message),
    openView: async (triggerId, view) => (await api()).openView(triggerId, view),
    openDirectMessage: async (userId) => (await api()).openDirectMessage(userId),
    postToResponseUrl: async (responseUrl, reply) => (await api()).postToResponseUrl(responseUrl, reply),
  };
}
