import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createDocumentClient } from './adapters/dynamodb/client';
import { DynamoGrantStore } from './adapters/dynamodb/grant-store';
import { DynamoRequestStore } from './adapters/dynamodb/request-store';
import { AWS_CALL_BOUNDS, DYNAMODB_CALL_BOUNDS } from './adapters/aws/call-bounds';
import { createLogger } from './adapters/logger';
import { createMetrics, type EmfMetrics } from './adapters/metrics';
import { CompositeNotifier, LogNotifier } from './adapters/notifiers';
import { InProcessQueue, streamQueue } from './adapters/queues';
import { systemClock, ulidIds } from './adapters/system';
import { DynamoSlackStore, type SlackJob } from './adapters/dynamodb/slack-store';
import { StaticSecretSource, type SecretSource } from './adapters/secrets/secret-source';
import { SlackClient, type SlackApi } from './adapters/slack/slack-client';
import { SlackNotifier } from './adapters/slack/slack-notifier';
import { WebhookNotifier } from './adapters/webhook/webhook-notifier';
import { DRY_RUN_NOTICE, loadSettings, readEnv, type RuntimeEnv } from './config';
import type { Clock, IdentityGranter, Logger, Notifier, Provisioner } from './domain/ports';
import type { AccountSettings, Settings } from './domain/settings';
import { provisionRequest, type ProvisioningDeps } from './domain/use-cases/provisionRequest';

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

export interface ComposeOptions {
  env?: RuntimeEnv;
  settings?: Settings;
  clock?: Clock;
  logger?: Logger;
  notifier?: Notifier;
  dynamodb?: DynamoDBClient;
}

export function composeApp(options: ComposeOptions = {}): App {
  const env = options.env ?? readEnv();
  const settings = options.settings ?? loadSettings(env.configPath, env.deployment);
  const logger = options.logger ?? createLogger('rolegate', env.logLevel);
  if (settings.provisioner.mode === 'dry-run' && !env.inProcessWorker) {
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
  const secrets = secretSource(env);
  const slackStore = new DynamoSlackStore(doc, env.tableName, () => clock.now());
  const slack = settings.slack
    ? {
        api: new SlackClient({ token: () => secrets.get(settings.slack!.botTokenParameter) }) as SlackApi,
        store: slackStore,
        signingSecret: () => secrets.get(settings.slack!.signingSecretParameter),
      }
    : undefined;
  const notifier =
    options.notifier ??
    new CompositeNotifier([
      new LogNotifier(logger),
      ...(slack ? [new SlackNotifier({ slack: slack.api, settings, messages: slackStore })] : []),
      ...(settings.webhooks.length ? [new WebhookNotifier({ webhooks: settings.webhooks, secrets, clock, logger })] : []),
    ]);

  // Deployed only: the local run has no CloudWatch to read EMF lines.
  const metrics: EmfMetrics | undefined = env.inProcessWorker ? undefined : createMetrics(env.stage);
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
    notifications: env.inProcessWorker ? 'inline' : 'stream',
    provisioner,
    ...(identity ? { identity } : {}),
    ...(metrics ? { metrics } : {}),
    queue: env.inProcessWorker ? (queue = new InProcessQueue((id) => provisionRequest(deps, id), logger)) : streamQueue,
  };
  const app: App = { env, logger, deps, flushMetrics: () => metrics?.flush(), ...(slack ? { slack } : {}), ...(queue ? { drain: () => queue!.drain() } : {}) };
  if (env.inProcessWorker && slack) {
    app.runSlackJobInProcess = (job) => {
      setImmediate(() => {
        void import('./handlers/slack/run-job').then(({ runSlackJob }) => runSlackJob({ deps, slack: slack.api, jobs: slack.store }, job)).catch((e) => logger.error('slack job failed', { error: String(e) }));
      });
    };
  }
  return app;
}

/**
 * Secrets (Slack signing secret, bot token, webhook secrets) come from SSM
 * Parameter Store, each kept five minutes (SsmSecretSource). The local run may take them
 * from ROLEGATE_LOCAL_SECRETS (JSON name → value) instead.
 */
function secretSource(env: RuntimeEnv): SecretSource {
  if (env.localSecrets) return new StaticSecretSource(env.localSecrets);
  // The SSM client loads on the first secret read, not at cold start.
  const ssm = once(() =>
    Promise.all([import('@aws-sdk/client-ssm'), import('./adapters/secrets/ssm-secrets')]).then(([sdk, m]) => new m.SsmSecretSource(new sdk.SSMClient({ region: env.region, requestHandler: AWS_CALL_BOUNDS }))),
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
            listManagedRoles: async (account: AccountSettings) => (await load()).provisioner.listManagedRoles!(account),
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

let cached: App | undefined;

/** The app of this cold start. */
export function getApp(): App {
  cached ??= composeApp();
  return cached;
}
