import type { PlannedCall } from '../../domain/model';
import type { GrantSpec, IdentityGranter, ProvisionOutcome, Provisioner } from '../../domain/ports';
import type { Principal } from '../../domain/principal';
import { desiredRole } from '../../domain/provisioning/documents';
import type { AccountSettings, Settings } from '../../domain/settings';
import { assumeRoleInput, provisionerRole } from './credentials';
import { creationCalls, deleteInlineCall, deleteRoleCall, detachCall, identityGrantCall, identityRevokeCall } from './iam-commands';

/** Shown in a plan instead of the account's ExternalId: plans are stored on requests that requesters read. */
export const EXTERNAL_ID_PLACEHOLDER = '(accounts[].externalId)';

/** The AssumeRole a real run would send, ExternalId withheld. */
export function assumeCall(account: AccountSettings, requestId: string): PlannedCall {
  const input: Record<string, unknown> = { ...assumeRoleInput(provisionerRole(account), requestId) };
  if (input.ExternalId) input.ExternalId = EXTERNAL_ID_PLACEHOLDER;
  return { service: 'sts', command: 'AssumeRole', input };
}

/**
 * Records the calls a new grant would send (the plan) — the same builders
 * and the same document validation as IamProvisioner — and changes nothing
 * in AWS. The plan assumes the role does not exist yet; AWS is never read.
 * The default of the local run.
 */
export class DryRunProvisioner implements Provisioner {
  /** @param settings unused; kept so every provisioner is built the same way in src/compose.ts. */
  constructor(private readonly settings?: Settings) {}

  async apply(spec: GrantSpec, requestId: string): Promise<ProvisionOutcome> {
    const desired = desiredRole(spec);
    return { roleArn: desired.roleArn, calls: [assumeCall(spec.account, requestId), ...creationCalls(desired)] };
  }

  /** What removal sends; the policies are listed in AWS at run time, so the plan names them by placeholder. */
  async remove(account: AccountSettings, roleName: string, requestId: string): Promise<PlannedCall[]> {
    return [
      assumeCall(account, requestId),
      { service: 'iam', command: 'ListAttachedRolePolicies', input: { RoleName: roleName } },
      detachCall(roleName, '(each attached policy)'),
      { service: 'iam', command: 'ListRolePolicies', input: { RoleName: roleName } },
      deleteInlineCall(roleName, '(each inline policy)'),
      deleteRoleCall(roleName),
    ];
  }
}

/** The identity-account calls a grant would send, recorded and not sent. */
export class DryRunIdentityGranter implements IdentityGranter {
  /** @param settings unused; kept for symmetry with the real granter's construction. */
  constructor(private readonly settings?: Settings) {}

  async grant(principal: Principal, roleArn: string, endsAt: string, grantKey: string): Promise<PlannedCall[]> {
    return [identityGrantCall(principal, roleArn, endsAt, grantKey)];
  }

  async revoke(principal: Principal, grantKey: string): Promise<PlannedCall[]> {
    return [identityRevokeCall(principal, grantKey)];
  }
}
