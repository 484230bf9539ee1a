import { createHash } from 'node:crypto';
import type { Principal } from '../../domain/principal';
import { identityPolicy, type DesiredRole } from '../../domain/provisioning/documents';
import type { PlannedCall } from '../../domain/model';

/**
 * The calls that create a grant's role from nothing. The IAM provisioner
 * sends them; the dry-run provisioner records them as the plan. One list, so
 * the plan is exactly what would be sent.
 */
export function creationCalls(d: DesiredRole): PlannedCall[] {
  const calls: PlannedCall[] = [
    {
      service: 'iam',
      command: 'CreateRole',
      input: {
        Path: d.path,
        RoleName: d.roleName,
        AssumeRolePolicyDocument: JSON.stringify(d.trustPolicy),
        MaxSessionDuration: d.maxSessionDuration,
        Description: d.description,
        ...(d.permissionsBoundaryArn ? { PermissionsBoundary: d.permissionsBoundaryArn } : {}),
        Tags: d.tags,
      },
    },
  ];
  for (const arn of d.managedPolicyArns) calls.push({ service: 'iam', command: 'AttachRolePolicy', input: { RoleName: d.roleName, PolicyArn: arn } });
  if (d.inlinePolicy) {
    calls.push({ service: 'iam', command: 'PutRolePolicy', input: { RoleName: d.roleName, PolicyName: d.inlinePolicyName, PolicyDocument: JSON.stringify(d.inlinePolicy) } });
  }
  return calls;
}

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

