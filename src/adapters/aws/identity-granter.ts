import { DeleteRolePolicyCommand, DeleteUserPolicyCommand, PutRolePolicyCommand, PutUserPolicyCommand, type IAMClient } from '@aws-sdk/client-iam';
import type { ProvisioningError } from '../../domain/errors';
import type { PlannedCall } from '../../domain/model';
import type { IdentityGranter } from '../../domain/ports';
import type { Principal } from '../../domain/principal';
import { identityGrantCall, identityPolicyName, identityRevokeCall } from './iam-commands';
import { withRetry, type RetryOptions } from './retry';

/**
 * The identity-account side: an inline policy on the requester's user or
 * role allowing sts:AssumeRole on exactly the grant's role until its end.
 */
export class IamIdentityGranter implements IdentityGranter {
  constructor(
    private readonly iam: () => Promise<IAMClient>,
    private readonly retry: RetryOptions = {},
  ) {}

  async grant(principal: Principal, roleArn: string, endsAt: string, grantKey: string): Promise<PlannedCall[]> {
    const call = identityGrantCall(principal, roleArn, endsAt, grantKey);
    const iam = await this.iam();
    const input = call.input as { PolicyName: string; PolicyDocument: string; UserName?: string; RoleName?: string };
    await withRetry(`${call.command} for ${principal.arn}`, () =>
      principal.type === 'user'
        ? iam.send(new PutUserPolicyCommand({ UserName: input.UserName!, PolicyName: input.PolicyName, PolicyDocument: input.PolicyDocument }))
        : iam.send(new PutRolePolicyCommand({ RoleName: input.RoleName!, PolicyName: input.PolicyName, PolicyDocument: input.PolicyDocument })),
      this.retry,
    );
    return [call];
  }

  async revoke(principal: Principal, grantKey: string): Promise<PlannedCall[]> {
    const call = identityRevokeCall(principal, grantKey);
    const iam = await this.iam();
    const name = identityPolicyName(grantKey);
    try {
      await withRetry(`${call.command} for ${principal.arn}`, () =>
        principal.type === 'user'
          ? iam.send(new DeleteUserPolicyCommand({ UserName: principal.name, PolicyName: name }))
          : iam.send(new DeleteRolePolicyCommand({ RoleName: principal.name, PolicyName: name })),
        this.retry,
      );
    } catch (e) {
      // Already gone: the revocation's goal holds.
      if ((e as ProvisioningError).awsCode !== 'NoSuchEntity') throw e;
    }
    return [call];
  }
}

export { identityPolicyName };
