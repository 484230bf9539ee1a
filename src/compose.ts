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
  const notifier = options.notifier ?? new CompositeNotifier([new LogNotifier(logger)]);

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
  return { env, logger, deps, ...(queue ? { drain: () => queue!.drain() } : {}) };
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
