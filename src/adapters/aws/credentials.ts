import { AssumeRoleCommand, type STSClient } from '@aws-sdk/client-sts';
import type { IAMClient } from '@aws-sdk/client-iam';
import type { Clock } from '../../domain/ports';
import { withRetry, type RetryOptions } from './retry';
import { sessionName } from './session-name';

export { sessionName };

export interface AssumableRole {
  /** Cache key: one set of credentials per target. */
  key: string;
  roleArn: string;
  externalId?: string;
}

export interface TemporaryCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  expiration: Date;
}

export type IamClientFactory = (credentials: TemporaryCredentials) => IAMClient;

interface Entry {
  client: IAMClient;
  expiresAt: number;
}

const REFRESH_BEFORE_MS = 5 * 60_000;

/**
 * Credentials for a provisioner role, by STS AssumeRole with the account's
 * ExternalId, cached until five minutes before they expire: one AssumeRole
 * per account per credential lifetime, shared by concurrent callers.
 */
export class ProvisionerCredentials {
  private readonly cache = new Map<string, Entry>();
  private readonly inFlight = new Map<string, Promise<Entry>>();

  constructor(
    private readonly sts: STSClient,
    private readonly clock: Clock,
    private readonly iamFactory: IamClientFactory,
    private readonly retry: RetryOptions = {},
  ) {}

  async iamFor(target: AssumableRole, requestId: string): Promise<IAMClient> {
    const cached = this.cache.get(target.key);
    if (cached && this.clock.now().getTime() < cached.expiresAt - REFRESH_BEFORE_MS) return cached.client;
    let pending = this.inFlight.get(target.key);
    if (!pending) {
      pending = this.assume(target, requestId).finally(() => this.inFlight.delete(target.key));
      this.inFlight.set(target.key, pending);
    }
    return (await pending).client;
  }

  private async assume(target: AssumableRole, requestId: string): Promise<Entry> {
    const out = await withRetry(
      `Assuming ${target.roleArn}`,
      () =>
        this.sts.send(
          new AssumeRoleCommand({
            RoleArn: target.roleArn,
            RoleSessionName: sessionName(requestId),
            DurationSeconds: 3600,
            ...(target.externalId ? { ExternalId: target.externalId } : {}),
          }),
        ),
      this.retry,
    );
    const c = out.Credentials;
    if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || !c.Expiration) throw new Error(`STS returned no credentials for ${target.roleArn}`);
    const expiration = new Date(c.Expiration);
    const entry = {
      client: this.iamFactory({ accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken, expiration }),
      expiresAt: expiration.getTime(),
    };
    this.cache.get(target.key)?.client.destroy();
    this.cache.set(target.key, entry);
    return entry;
  }
}

