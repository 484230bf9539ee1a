import { DeleteRolePolicyCommand, DeleteUserPolicyCommand, PutRolePolicyCommand, PutUserPolicyCommand, type IAMClient } from '@aws-sdk/client-iam';
import { createHash } from 'node:crypto';
import type { ProvisioningError } from '../../domain/errors';
import type { PlannedCall } from '../../domain/model';
import type { IdentityGranter } from '../../domain/ports';
import type { Principal } from '../../domain/principal';
import { identityPolicy } from '../../domain/provisioning/documents';
import { withRetry, type RetryOptions } from './retry';

/** One inline policy per grant key on the principal: `rolegate-<hash of the grant key>`. */
export function identityPolicyName(grantKey: string): string {
  return `rolegate-${createHash('sha256').update(grantKey).digest('hex').slice(0, 16)}`;
}

/** Calls that give or take the principal's sts:AssumeRole on the grant's role (shared with the dry run). */
export function identityGrantCall(principal: Principal, roleArn: string, endsAt: string, grantKey: string): PlannedCall {
  const base = { PolicyName: identityPolicyName(grantKey), PolicyDocument: JSON.stringify(identityPolicy(roleArn, endsAt)) };
  return principal.type === 'user'
    ? { service: 'iam', command: 'PutUserPolicy', input: { UserName: principal.name, ...base } }
    : { service: 'iam', command: 'PutRolePolicy', input: { RoleName: principal.name, ...base } };
}

export function identityRevokeCall(principal: Principal, grantKey: string): PlannedCall {
  const base = { PolicyName: identityPolicyName(grantKey) };
  return principal.type === 'user'
    ? { service: 'iam', command: 'DeleteUserPolicy', input: { UserName: principal.name, ...base } }
    : { service: 'iam', command: 'DeleteRolePolicy', input: { RoleName: principal.name, ...base } };
}

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
