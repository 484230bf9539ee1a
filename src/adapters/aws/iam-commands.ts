import { createHash } from 'node:crypto';
import type { PlannedCall } from '../../domain/model';
import type { Principal } from '../../domain/principal';
import { identityPolicy, type DesiredRole, type PolicyDocument } from '../../domain/provisioning/documents';

/*
 * The IAM calls rolegate makes, as data. The IAM provisioner and identity
 * granter send them; the dry run records them as the plan. One builder per
 * call, so the plan is exactly what would be sent.
 */

const iam = (command: string, input: Record<string, unknown>): PlannedCall => ({ service: 'iam', command, input });

/** IAM takes policy documents as JSON text. */
export function policyText(doc: PolicyDocument | Record<string, unknown>): string {
  return JSON.stringify(doc);
}

export function createRoleCall(d: DesiredRole): PlannedCall {
  return iam('CreateRole', {
    Path: d.path,
    RoleName: d.roleName,
    AssumeRolePolicyDocument: policyText(d.trustPolicy),
    MaxSessionDuration: d.maxSessionDuration,
    Description: d.description,
    ...(d.permissionsBoundaryArn ? { PermissionsBoundary: d.permissionsBoundaryArn } : {}),
    // Tagged at creation: a crash right after CreateRole still leaves a role rolegate recognises as its own.
    Tags: d.tags,
  });
}

export const attachCall = (roleName: string, policyArn: string) => iam('AttachRolePolicy', { RoleName: roleName, PolicyArn: policyArn });
export const detachCall = (roleName: string, policyArn: string) => iam('DetachRolePolicy', { RoleName: roleName, PolicyArn: policyArn });
export const deleteInlineCall = (roleName: string, policyName: string) => iam('DeleteRolePolicy', { RoleName: roleName, PolicyName: policyName });
export const deleteRoleCall = (roleName: string) => iam('DeleteRole', { RoleName: roleName });

export function putInlineCall(d: DesiredRole): PlannedCall {
  return iam('PutRolePolicy', { RoleName: d.roleName, PolicyName: d.inlinePolicyName, PolicyDocument: policyText(d.inlinePolicy) });
}

export const updateTrustCall = (d: DesiredRole) => iam('UpdateAssumeRolePolicy', { RoleName: d.roleName, PolicyDocument: policyText(d.trustPolicy) });
export const updateRoleCall = (d: DesiredRole) => iam('UpdateRole', { RoleName: d.roleName, MaxSessionDuration: d.maxSessionDuration, Description: d.description });
export const putBoundaryCall = (d: DesiredRole) => iam('PutRolePermissionsBoundary', { RoleName: d.roleName, PermissionsBoundary: d.permissionsBoundaryArn });
export const deleteBoundaryCall = (roleName: string) => iam('DeleteRolePermissionsBoundary', { RoleName: roleName });
export const tagRoleCall = (roleName: string, tags: { Key: string; Value: string }[]) => iam('TagRole', { RoleName: roleName, Tags: tags });

/**
 * The writes that create a grant's role from nothing: the role with its
 * trust, boundary and tags, then its inline policy (the profile's Denies
 * and the end of access), then its managed policies, so that a role left half-built
 * by a crash never grants more than the profile allows. IamProvisioner sends exactly these for a new role; the dry run
 * records them.
 */
export function creationCalls(d: DesiredRole): PlannedCall[] {
  return [createRoleCall(d), putInlineCall(d), ...d.managedPolicyArns.map((arn) => attachCall(d.roleName, arn))];
}

/** One inline policy per grant key on the principal: `rolegate-<hash of the grant key>` (25 characters; IAM allows 128). */
export function identityPolicyName(grantKey: string): string {
  return `rolegate-${createHash('sha256').update(grantKey).digest('hex').slice(0, 16)}`;
}

/** The call that gives the principal sts:AssumeRole (and sts:SetSourceIdentity) on the grant's role until the end (shared with the dry run). */
export function identityGrantCall(principal: Principal, roleArn: string, endsAt: string, grantKey: string): PlannedCall {
  const base = { PolicyName: identityPolicyName(grantKey), PolicyDocument: policyText(identityPolicy(roleArn, endsAt)) };
  return principal.type === 'user' ? iam('PutUserPolicy', { UserName: principal.name, ...base }) : iam('PutRolePolicy', { RoleName: principal.name, ...base });
}

/** The call that takes it away again. */
export function identityRevokeCall(principal: Principal, grantKey: string): PlannedCall {
  const base = { PolicyName: identityPolicyName(grantKey) };
  return principal.type === 'user' ? iam('DeleteUserPolicy', { UserName: principal.name, ...base }) : iam('DeleteRolePolicy', { RoleName: principal.name, ...base });
}
