import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { ProvisionerCredentials } from '../../src/adapters/aws/credentials';
import { IamIdentityGranter } from '../../src/adapters/aws/identity-granter';
import { IamProvisioner } from '../../src/adapters/aws/iam-provisioner';
import { grantItemKey } from '../../src/adapters/dynamodb/keys';
import type { Settings } from '../../src/domain/settings';
import { injectDynamoFaults } from './fault-dynamodb';
import { FakeAws } from './fault-iam';
import { FaultSchedule } from './fault-schedule';
import { harness, type Harness } from './harness';

/*
 * One isolated world for one fault case: a fresh table on the real DynamoDB
 * Local engine (the harness), an in-memory IAM and STS behind the SDK mocks,
 * the real IamProvisioner, ProvisionerCredentials and IamIdentityGranter, and
 * one fault schedule in front of all of them. Worlds share nothing, so cases
 * run concurrently.
 */
export interface FaultWorld {
  h: Harness;
  aws: FakeAws;
  schedule: FaultSchedule;
  /** A new Lambda invocation: provisioning with a cold credential cache (so it assumes the role again). */
  newInvocation(): void;
  /** The grant item as stored, lease attributes included. */
  rawGrant(grantKey: string): Promise<Record<string, unknown> | undefined>;
  close(): Promise<void>;
}

const noSleep = { sleep: async () => undefined };

/** Where rolegate puts identity-side policies when the configuration names no identity account. */
export const DEFAULT_IDENTITY_ACCOUNT = '111111111111';

export async function faultWorld(settings: Settings): Promise<FaultWorld> {
  const schedule = new FaultSchedule();
  const h = await harness({ settings });
  const aws = new FakeAws(schedule, () => h.clock.now());
  const newInvocation = () => {
    const credentials = new ProvisionerCredentials(aws.sts(), h.clock, aws.iamClientFactory, noSleep);
    h.deps.provisioner = new IamProvisioner(credentials, noSleep);
    h.deps.identity = new IamIdentityGranter(aws.iamIn(settings.identityAccountId ?? DEFAULT_IDENTITY_ACCOUNT), noSleep);
  };
  newInvocation();
  const removeFaults = injectDynamoFaults(h.requests.doc, schedule);
  return {
    h,
    aws,
    schedule,
    newInvocation,
    rawGrant: async (grantKey) => (await h.requests.doc.send(new GetCommand({ TableName: h.tableName, Key: grantItemKey(grantKey), ConsistentRead: true }))).Item,
    close: async () => {
      schedule.disarm();
      removeFaults();
      await h.close();
    },
  };
}

/** Runs `work` over `items`, at most `limit` at a time. */
export async function inPool<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await work(items[next++]!);
  });
  await Promise.all(lanes);
}
