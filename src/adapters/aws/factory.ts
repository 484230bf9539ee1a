import { IAMClient } from '@aws-sdk/client-iam';
import { STSClient } from '@aws-sdk/client-sts';
import type { Clock, IdentityGranter, Provisioner } from '../../domain/ports';
import type { Settings } from '../../domain/settings';
import { AWS_CALL_BOUNDS } from './call-bounds';
import { IDENTITY_ACCOUNT_KEY, ProvisionerCredentials } from './credentials';
import { IamIdentityGranter } from './identity-granter';
import { IamProvisioner } from './iam-provisioner';

/**
 * The real provisioner and identity granter with their SDK clients. Loaded
 * on first use (src/compose.ts), so functions that never touch IAM do not
 * pay for the IAM and STS clients at cold start.
 */
export function createAwsProvisioning(settings: Settings, region: string, clock: Clock): { provisioner: Provisioner; identity: IdentityGranter } {
  // The standard SDK environment applies: credential chain, AWS_REGION, AWS_ENDPOINT_URL_*.
  // rolegate's own retry (withRetry) classifies and backs off; the SDK's retries under it would multiply the attempts.
  // Bounded calls: a connection or an answer that hangs ends as a TimeoutError (retried as transient)
  // instead of holding the invocation, and a grant's lease, until the Lambda's own timeout.
  const requestHandler = AWS_CALL_BOUNDS;
  const sts = new STSClient({ region, maxAttempts: 1, requestHandler });
  const credentials = new ProvisionerCredentials(sts, clock, (creds) => new IAMClient({ region, credentials: creds, maxAttempts: 1, requestHandler }));
  const p = settings.provisioner;
  let identityIam: () => Promise<IAMClient>;
  if (p.identityRoleArn) {
    const target = { key: IDENTITY_ACCOUNT_KEY, roleArn: p.identityRoleArn, ...(p.identityExternalId ? { externalId: p.identityExternalId } : {}) };
    identityIam = () => credentials.iamFor(target, 'identity');
  } else {
    // Settings validation requires identityRoleArn with identityGrants in aws mode, so this is never
    // called; rolegate's own roles hold no IAM permission to grant with.
    identityIam = () => Promise.reject(new Error('provisioner.identityRoleArn is not set: identity grants need the identity-granter role.'));
  }
  return { provisioner: new IamProvisioner(credentials), identity: new IamIdentityGranter(identityIam) };
}
