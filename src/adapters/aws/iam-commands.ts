import type { DesiredRole } from '../../domain/provisioning/documents';
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
