import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { IAMClient } from '@aws-sdk/client-iam';
import { STSClient } from '@aws-sdk/client-sts';
import { createDocumentClient } from './adapters/dynamodb/client';
import { DynamoGrantStore } from './adapters/dynamodb/grant-store';
import { DynamoRequestStore } from './adapters/dynamodb/request-store';
import { createLogger } from './adapters/logger';
import { CompositeNotifier, LogNotifier } from './adapters/notifiers';
import { InProcessQueue, streamQueue } from './adapters/queues';
import { systemClock, ulidIds } from './adapters/system';
import { ProvisionerCredentials } from './adapters/aws/credentials';
import { DryRunIdentityGranter, DryRunProvisioner } from './adapters/aws/dry-run';
import { IamIdentityGranter } from './adapters/aws/identity-granter';
import { IamProvisioner } from './adapters/aws/iam-provisioner';
import { SSMClient } from '@aws-sdk/client-ssm';
import { DynamoSlackStore, type SlackJob } from './adapters/dynamodb/slack-store';
import { SsmSecretSource, StaticSecretSource, type SecretSource } from './adapters/secrets/ssm-secrets';
import { SlackClient, type SlackApi } from './adapters/slack/slack-client';
import { SlackNotifier } from './adapters/slack/slack-notifier';
import { WebhookNotifier } from './adapters/webhook/webhook-notifier';
import { loadSettings, readEnv, type RuntimeEnv } from './config';
import type { Clock, Logger, Notifier } from './domain/ports';
import type { Settings } from './domain/settings';
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
  const settings = options.settings ?? loadSettings(env.configPath);
  const logger = options.logger ?? createLogger('rolegate', env.logLevel);
  const clock = options.clock ?? systemClock;
  const ids = ulidIds();

  const dynamodb =
    options.dynamodb ??
    new DynamoDBClient({
      ...(env.dynamodbEndpoint ? { endpoint: env.dynamodbEndpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } } : {}),
      region: env.region,
    });
  const doc = createDocumentClient(dynamodb);

  const { provisioner, identity } = provisioning(settings, env, clock);
  const secrets = secretSource(env);
  const slackStore = new DynamoSlackStore(doc, env.tableName, () => clock.now());
  const slack = settings.slack
    ? {
        api: new SlackClient({ token: () => secrets.get(settings.slack!.botTokenParameter ?? 'rolegate/slack/bot-token') }) as SlackApi,
        store: slackStore,
        signingSecret: () => secrets.get(settings.slack!.signingSecretParameter ?? 'rolegate/slack/signing-secret'),
      }
    : undefined;
  const notifier =
    options.notifier ??
    new CompositeNotifier([
      new LogNotifier(logger),
      ...(slack ? [new SlackNotifier({ slack: slack.api, settings, messages: slackStore })] : []),
      ...(settings.webhooks.length ? [new WebhookNotifier({ webhooks: settings.webhooks, secrets, clock, logger })] : []),
    ]);

  let queue: InProcessQueue | undefined;
  const deps: ProvisioningDeps = {
    settings,
    requests: new DynamoRequestStore(doc, env.tableName),
    grants: new DynamoGrantStore(doc, env.tableName),
    clock,
    ids,
    logger,
    notifier,
    provisioner,
    ...(identity ? { identity } : {}),
    queue: env.inProcessWorker ? (queue = new InProcessQueue((id) => provisionRequest(deps, id), logger)) : streamQueue,
  };
  const app: App = { env, logger, deps, ...(slack ? { slack } : {}), ...(queue ? { drain: () => queue!.drain() } : {}) };
  if (env.inProcessWorker && slack) {
    app.runSlackJobInProcess = (job) => {
      setImmediate(() => {
        void import('./handlers/slack/run-job').then(({ runSlackJob }) => runSlackJob(deps, slack.api, job)).catch((e) => logger.error('slack job failed', { error: String(e) }));
      });
    };
  }
  return app;
}

/**
 * Secrets (Slack signing secret, bot token, webhook secrets) come from SSM
 * Parameter Store, loaded once per cold start. The local run may take them
 * from ROLEGATE_LOCAL_SECRETS (JSON name → value) instead.
 */
function secretSource(env: RuntimeEnv): SecretSource {
  if (env.localSecrets) return new StaticSecretSource(env.localSecrets);
  return new SsmSecretSource(new SSMClient({ region: env.region }));
}

function provisioning(settings: Settings, env: RuntimeEnv, clock: Clock): Pick<ProvisioningDeps, 'provisioner' | 'identity'> {
  if (settings.provisioner.mode === 'dry-run') {
    return { provisioner: new DryRunProvisioner(settings), identity: new DryRunIdentityGranter(settings) };
  }
  // The standard SDK environment applies: credential chain, AWS_REGION, AWS_ENDPOINT_URL_*.
  const sts = new STSClient({ region: env.region });
  const credentials = new ProvisionerCredentials(sts, clock, (creds) => new IAMClient({ region: env.region, credentials: creds }));
  const p = settings.provisioner;
  let identityIam: () => Promise<IAMClient>;
  if (p.identityRoleArn) {
    const target = { key: 'identity-account', roleArn: p.identityRoleArn, ...(p.identityExternalId ? { externalId: p.identityExternalId } : {}) };
    identityIam = () => credentials.iamFor(target, 'identity');
  } else {
    // rolegate runs in the identity account: its own role grants (see templates/identity-granter-role.yaml).
    const own = new IAMClient({ region: env.region });
    identityIam = async () => own;
  }
  return { provisioner: new IamProvisioner(credentials), identity: new IamIdentityGranter(identityIam) };
}

let cached: App | undefined;

/** The app of this cold start. */
export function getApp(): App {
  cached ??= composeApp();
  return cached;
}
