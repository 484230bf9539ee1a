import { AssumeRoleCommand, type AssumeRoleCommandInput, type STSClient } from '@aws-sdk/client-sts';
import type { IAMClient } from '@aws-sdk/client-iam';
import { ProvisioningError } from '../../domain/errors';
import type { Clock } from '../../domain/ports';
import type { AccountSettings } from '../../domain/settings';
import { withRetry, type RetryOptions } from './retry';
import { sessionName } from './session-name';

export { sessionName };

/** The cache key of the identity account's granter role (provisioner roles are keyed by their account id). */
export const IDENTITY_ACCOUNT_KEY = 'identity-account';

/** A role rolegate assumes: a target account's provisioner role, or the identity-granter role. */
export interface AssumableRole {
  /** Cache key: one set of credentials per key (the account id for provisioner roles). */
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

/** Builds the IAM client that uses one set of assumed credentials (compose: `new IAMClient({ region, credentials })`). */
export type IamClientFactory = (credentials: TemporaryCredentials) => IAMClient;

/** STS's default and the provisioner role's MaxSessionDuration in templates/provisioner-role.yaml. */
export const ASSUME_DURATION_SECONDS = 3600;
/** Credentials are renewed this long before they expire, so no IAM call starts with a dying session. */
export const REFRESH_BEFORE_MS = 5 * 60_000;

/** The account's provisioner role, as configured. */
export function provisionerRole(account: AccountSettings): AssumableRole {
  return { key: account.id, roleArn: account.provisionerRoleArn, externalId: account.externalId };
}

/** The AssumeRole input for a role and the request that needs it (shared with the dry run's plan). */
export function assumeRoleInput(target: AssumableRole, requestId: string): AssumeRoleCommandInput {
  return {
    RoleArn: target.roleArn,
    RoleSessionName: sessionName(requestId),
    DurationSeconds: ASSUME_DURATION_SECONDS,
    ...(target.externalId ? { ExternalId: target.externalId } : {}),
  };
}

interface Entry {
  credentials: TemporaryCredentials;
  client: IAMClient;
}

/** What to check when STS refuses: the role is named by its account (the message reaches requesters), so the hint says which template made it. */
const stsHints = (role: string, template: string, externalId: string) => ({
  AccessDenied: `rolegate may not assume its ${role} role there: check that the role exists (templates/${template}), that its trust names rolegate's execution role, and that ${externalId} matches the stack's`,
});
const STS_HINTS = stsHints('provisioner', 'provisioner-role.yaml', "the account's externalId in the configuration");
const IDENTITY_STS_HINTS = stsHints('identity-granter', 'identity-granter-role.yaml', 'provisioner.identityExternalId');

/**
 * Credentials for the roles rolegate assumes, by STS AssumeRole with the
 * ExternalId, cached per key until five minutes before they expire: one
 * AssumeRole per account per credential lifetime, however many grants, and
 * concurrent callers for one account share a single in-flight call.
 *
 * The session is named after the request that opened it (`rolegate-<id>`);
 * later requests served by the same cached session appear in CloudTrail
 * under that first name.
 */
export class ProvisionerCredentials {
  private readonly cache = new Map<string, Entry>();
  private readonly inFlight = new Map<string, Promise<Entry>>();
  /** Replaced clients, destroyed one refresh later: a caller may still be using one when it is replaced. */
  private readonly retired = new Map<string, IAMClient>();

  constructor(
    private readonly sts: STSClient,
    private readonly clock: Clock,
    private readonly iamFactory: IamClientFactory,
    private readonly retry: RetryOptions = {},
  ) {}

  /** An IAM client acting as the target role, from cache while its credentials are fresh. */
  async iamFor(target: AssumableRole, requestId: string): Promise<IAMClient> {
    return (await this.entry(target, requestId)).client;
  }

  /** The assumed credentials themselves (for a client of another service). */
  async credentialsFor(target: AssumableRole, requestId: string): Promise<TemporaryCredentials> {
    return (await this.entry(target, requestId)).credentials;
  }

  /** Forget an account's credentials (after AWS rejected them as expired or invalid). */
  invalidate(key: string): void {
    const entry = this.cache.get(key);
    if (!entry) return;
    this.retire(key, entry.client);
    this.cache.delete(key);
  }

  private retire(key: string, client: IAMClient): void {
    this.retired.get(key)?.destroy();
    this.retired.set(key, client);
  }

  private async entry(target: AssumableRole, requestId: string): Promise<Entry> {
    const cached = this.cache.get(target.key);
    if (cached && this.clock.now().getTime() < cached.credentials.expiration.getTime() - REFRESH_BEFORE_MS) return cached;
    let pending = this.inFlight.get(target.key);
    if (!pending) {
      pending = this.assume(target, requestId).finally(() => this.inFlight.delete(target.key));
      this.inFlight.set(target.key, pending);
    }
    return pending;
  }

  private async assume(target: AssumableRole, requestId: string): Promise<Entry> {
    const input = assumeRoleInput(target, requestId);
    // The message reaches requesters, approvers' channels and webhooks (the request's failure), so it names the
    // account, not rolegate's own role in it; the role's ARN is in STS's own message, which goes to the logs only.
    const identity = target.key === IDENTITY_ACCOUNT_KEY;
    const what = `AssumeRole into ${identity ? 'the identity account' : `account ${target.key}`}`;
    const out = await withRetry(what, () => this.sts.send(new AssumeRoleCommand(input)), this.retry, identity ? IDENTITY_STS_HINTS : STS_HINTS);
    const c = out.Credentials;
    if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || !c.Expiration) {
      throw new ProvisioningError(`${what} returned no credentials; it will be retried.`, 'NoCredentials', true, 'PROVISIONING_FAILED', `no credentials from ${target.roleArn}`);
    }
    const credentials = { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken, expiration: new Date(c.Expiration) };
    const entry = { credentials, client: this.iamFactory(credentials) };
    const previous = this.cache.get(target.key);
    if (previous) this.retire(target.key, previous.client);
    this.cache.set(target.key, entry);
    return entry;
  }
}
