import { DeleteRolePolicyCommand, DeleteUserPolicyCommand, GetRoleCommand, GetUserCommand, PutRolePolicyCommand, PutUserPolicyCommand, type IAMClient } from '@aws-sdk/client-iam';
import { ProvisioningError } from '../../domain/errors';
import type { PlannedCall } from '../../domain/model';
import type { IdentityGranter } from '../../domain/ports';
import type { Principal } from '../../domain/principal';
import { policySize } from '../../domain/provisioning/documents';
import { identityGrantCall, identityPolicyName, identityRevokeCall } from './iam-commands';
import { withRetry, type RetryOptions } from './retry';

export { identityPolicyName };

/** IAM's aggregate inline-policy quota per user and per role (characters without whitespace). */
const INLINE_AGGREGATE_MAX = { user: 2048, role: 10_240 } as const;

const HINTS = {
  LimitExceeded:
    "the principal's inline policies would pass IAM's total size quota (2,048 characters for a user, 10,240 for a role); every live grant adds one rolegate-* policy, so end some of this principal's grants or grant the identity side through a group",
  AccessDenied:
    'rolegate may not put inline policies on this principal: deploy templates/identity-granter-role.yaml and include its path in UserPathPattern or RolePathPattern',
  NoSuchEntity: 'the principal does not exist in the identity account',
};

/**
 * The identity-account side: an inline policy `rolegate-<hash of the grant
 * key>` on the requester's IAM user (or the workload role) allowing
 * sts:AssumeRole (and sts:SetSourceIdentity, to carry a session's source
 * identity) on exactly the grant's role until its end. One policy per
 * grant key, so a re-run overwrites it and an extension moves its end.
 */
export class IamIdentityGranter implements IdentityGranter {
  private readonly client: () => Promise<IAMClient>;

  /**
   * @param iam the identity account's IAM: a client with rolegate's own
   *   credentials, or a function returning one (for example
   *   `() => credentials.iamFor(identityRole, 'identity')` to assume an
   *   identity-granter role).
   */
  constructor(
    iam: IAMClient | (() => Promise<IAMClient>),
    private readonly retry: RetryOptions = {},
  ) {
    this.client = typeof iam === 'function' ? iam : async () => iam;
  }

  async grant(principal: Principal, roleArn: string, endsAt: string, grantKey: string): Promise<PlannedCall[]> {
    const call = identityGrantCall(principal, roleArn, endsAt, grantKey);
    const input = call.input as { PolicyName: string; PolicyDocument: string };
    const size = policySize(JSON.parse(input.PolicyDocument));
    if (size > INLINE_AGGREGATE_MAX[principal.type]) {
      throw new ProvisioningError(`The identity policy is ${size} characters without whitespace; IAM allows ${INLINE_AGGREGATE_MAX[principal.type]} for a ${principal.type}.`, undefined, false);
    }
    const iam = await this.client();
    await withRetry(
      `${call.command} on ${principal.arn}`,
      () =>
        principal.type === 'user'
          ? iam.send(new PutUserPolicyCommand({ UserName: principal.name, PolicyName: input.PolicyName, PolicyDocument: input.PolicyDocument }))
          : iam.send(new PutRolePolicyCommand({ RoleName: principal.name, PolicyName: input.PolicyName, PolicyDocument: input.PolicyDocument })),
      this.retry,
      HINTS,
    );
    return [call];
  }

  /** Deletes the grant's policy; an absent one (or principal) is already revoked. */
  async revoke(principal: Principal, grantKey: string): Promise<PlannedCall[]> {
    const call = identityRevokeCall(principal, grantKey);
    const policyName = identityPolicyName(grantKey);
    const iam = await this.client();
    try {
      await withRetry(
        `${call.command} on ${principal.arn}`,
        () =>
          principal.type === 'user'
            ? iam.send(new DeleteUserPolicyCommand({ UserName: principal.name, PolicyName: policyName }))
            : iam.send(new DeleteRolePolicyCommand({ RoleName: principal.name, PolicyName: policyName })),
        this.retry,
        HINTS,
      );
    } catch (e) {
      if (e instanceof ProvisioningError && e.awsCode === 'NoSuchEntity') return [];
      if (e instanceof ProvisioningError && e.awsCode === 'AccessDenied' && (await this.gone(iam, principal))) return [];
      throw e;
    }
    return [call];
  }

  /**
   * Whether the principal was deleted. IAM cannot know the path of a user or
   * role that does not exist, so it authorises a call on a deleted one
   * against `user/<name>`: under a UserPathPattern or RolePathPattern other
   * than `*`, the delete is AccessDenied, not NoSuchEntity, at every attempt.
   * A deleted principal took its inline policies with it. The granter role
   * may read any user or role for this (templates/identity-granter-role.yaml);
   * without that, the AccessDenied stands.
   */
  private async gone(iam: IAMClient, principal: Principal): Promise<boolean> {
    try {
      await withRetry<unknown>(
        `${principal.type === 'user' ? 'GetUser' : 'GetRole'} on ${principal.arn}`,
        () => (principal.type === 'user' ? iam.send(new GetUserCommand({ UserName: principal.name })) : iam.send(new GetRoleCommand({ RoleName: principal.name }))),
        this.retry,
      );
      return false;
    } catch (e) {
      if (e instanceof ProvisioningError && e.awsCode === 'NoSuchEntity') return true;
      return false;
    }
  }
}
