import type { PlannedCall } from '../../domain/model';
import type { GrantSpec, IdentityGranter, ProvisionOutcome, Provisioner } from '../../domain/ports';
import type { Principal } from '../../domain/principal';
import { desiredRole } from '../../domain/provisioning/documents';
import type { AccountSettings, Settings } from '../../domain/settings';
import { sessionName } from './session-name';
import { creationCalls, identityGrantCall, identityRevokeCall } from './iam-commands';

/**
 * Records the exact calls a new grant would send (the plan), after the same
 * document validation, and changes nothing in AWS. The default of the local run.
 */
export class DryRunProvisioner implements Provisioner {
  constructor(private readonly settings: Settings) {}

  async apply(spec: GrantSpec, requestId: string): Promise<ProvisionOutcome> {
    const desired = desiredRole(spec);
    return { roleArn: desired.roleArn, calls: [assumeCall(spec.account, requestId), ...creationCalls(desired)] };
  }

  async remove(account: AccountSettings, roleName: string, requestId: string): Promise<PlannedCall[]> {
    return [
      assumeCall(account, requestId),
      { service: 'iam', command: 'ListAttachedRolePolicies', input: { RoleName: roleName } },
      { service: 'iam', command: 'DetachRolePolicy', input: { RoleName: roleName, PolicyArn: '(each attached policy)' } },
      { service: 'iam', command: 'ListRolePolicies', input: { RoleName: roleName } },
      { service: 'iam', command: 'DeleteRolePolicy', input: { RoleName: roleName, PolicyName: '(each inline policy)' } },
      { service: 'iam', command: 'DeleteRole', input: { RoleName: roleName } },
    ];
  }

  get partition(): string {
    return this.settings.partition;
  }
}

function assumeCall(account: AccountSettings, requestId: string): PlannedCall {
  // The ExternalId guards against the confused deputy; it is not a secret, but a plan need not repeat it.
  return { service: 'sts', command: 'AssumeRole', input: { RoleArn: account.provisionerRoleArn, RoleSessionName: sessionName(requestId), ExternalId: '(from configuration)' } };
}

export class DryRunIdentityGranter implements IdentityGranter {
  constructor(private readonly settings: Settings) {}
  async grant(principal: Principal, roleArn: string, endsAt: string, grantKey: string): Promise<PlannedCall[]> {
    return [identityGrantCall(principal, roleArn, endsAt, grantKey)];
  }
  async revoke(principal: Principal, grantKey: string): Promise<PlannedCall[]> {
    return [identityRevokeCall(principal, grantKey)];
  }
}
