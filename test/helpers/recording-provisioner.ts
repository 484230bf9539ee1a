import type { AccountSettings } from '../../src/domain/settings';
import { ProvisioningError } from '../../src/domain/errors';
import type { ApplyOptions, GrantSpec, IdentityGranter, ManagedRoleState, ProvisionOutcome, Provisioner } from '../../src/domain/ports';
import { desiredRole } from '../../src/domain/provisioning/documents';
import type { PlannedCall } from '../../src/domain/model';
import type { Principal } from '../../src/domain/principal';

/**
 * A Provisioner double for use-case tests: keeps the roles it was asked to
 * hold, as IAM would, so tests can assert the resulting state. IAM command
 * sequences are tested separately, against aws-sdk-client-mock.
 */
/** The role IAM would hold for a grant written as `spec`, as reconciliation reads it. */
export function roleStateOf(spec: GrantSpec): ManagedRoleState {
  const d = desiredRole(spec);
  return {
    roleName: spec.roleName,
    roleArn: d.roleArn,
    managedByRolegate: true,
    trustPolicy: d.trustPolicy,
    attachedPolicyArns: d.managedPolicyArns,
    inlinePolicies: { [d.inlinePolicyName]: d.inlinePolicy },
    ...(d.permissionsBoundaryArn ? { permissionsBoundaryArn: d.permissionsBoundaryArn } : {}),
    maxSessionDuration: d.maxSessionDuration,
  };
}

export class RecordingProvisioner implements Provisioner {
  readonly roles = new Map<string, GrantSpec>();
  readonly log: string[] = [];
  /** Throw this from the next apply/remove calls (fault injection). */
  failNext: Error[] = [];

  async apply(spec: GrantSpec, requestId: string, options: ApplyOptions = {}): Promise<ProvisionOutcome> {
    const failure = this.failNext.shift();
    if (failure) throw failure;
    if (options.existingOnly && !this.roles.has(`${spec.account.id}#${spec.roleName}`)) {
      this.log.push(`left ${spec.roleName} missing for ${requestId}`);
      throw new ProvisioningError(`Role ${spec.roleName} in account ${spec.account.id} is missing.`, 'RoleMissing', false);
    }
    this.roles.set(`${spec.account.id}#${spec.roleName}`, spec);
    // A rewrite undoes what was tampered with, but tags added by hand stay (apply only adds and updates its own).
    const { otherTagKeys } = this.tampered.get(`${spec.account.id}#${spec.roleName}`) ?? {};
    this.tampered.delete(`${spec.account.id}#${spec.roleName}`);
    if (otherTagKeys) this.tampered.set(`${spec.account.id}#${spec.roleName}`, { otherTagKeys });
    this.log.push(`apply ${spec.roleName} until ${spec.endsAt} for ${requestId}`);
    const roleArn = `arn:${spec.partition}:iam::${spec.account.id}:role/rolegate/${spec.roleName}`;
    return { roleArn, calls: [{ service: 'iam', command: 'UpsertRole', input: { RoleName: spec.roleName } }] };
  }

  /** Roles found in IAM that no grant made (drift), keyed account#roleName. */
  readonly foreign = new Map<string, ManagedRoleState>();
  /** Tamper with a held role's IAM state, as someone in the console would. */
  readonly tampered = new Map<string, Partial<ManagedRoleState>>();

  /** Runs once a listing is taken, before reconciliation reads the grants: a change racing with it. */
  afterListing?: () => Promise<void>;

  /** Names read by describeManagedRole, in order: what reconciliation read, and when. */
  readonly described: string[] = [];

  async listManagedRoleNames(account: AccountSettings): Promise<string[]> {
    const keys = [...this.roles.keys(), ...this.foreign.keys()].filter((key) => key.startsWith(`${account.id}#`));
    const listing = keys.map((key) => key.slice(key.indexOf('#') + 1));
    const hook = this.afterListing;
    this.afterListing = undefined;
    await hook?.();
    return listing;
  }

  async describeManagedRole(account: AccountSettings, roleName: string): Promise<ManagedRoleState | undefined> {
    this.described.push(roleName);
    return this.stateOf(`${account.id}#${roleName}`);
  }

  private stateOf(key: string): ManagedRoleState | undefined {
    const foreign = this.foreign.get(key);
    if (foreign) return foreign;
    const spec = this.roles.get(key);
    if (!spec) return undefined;
    return { ...roleStateOf(spec), ...this.tampered.get(key) };
  }

  async remove(account: AccountSettings, roleName: string, requestId: string): Promise<PlannedCall[]> {
    const failure = this.failNext.shift();
    if (failure) throw failure;
    this.roles.delete(`${account.id}#${roleName}`);
    this.foreign.delete(`${account.id}#${roleName}`);
    this.tampered.delete(`${account.id}#${roleName}`);
    this.log.push(`remove ${roleName} for ${requestId}`);
    return [{ service: 'iam', command: 'DeleteRole', input: { RoleName: roleName } }];
  }
}

export class RecordingIdentityGranter implements IdentityGranter {
  readonly policies = new Map<string, { principal: string; roleArn: string; endsAt: string }>();
  async grant(principal: Principal, roleArn: string, endsAt: string, grantKey: string): Promise<PlannedCall[]> {
    this.policies.set(grantKey, { principal: principal.arn, roleArn, endsAt });
    return [{ service: 'iam', command: principal.type === 'user' ? 'PutUserPolicy' : 'PutRolePolicy', input: { grantKey } }];
  }
  /** Errors the next revokes fail with, before they remove anything. */
  failNext: Error[] = [];
  async revoke(principal: Principal, grantKey: string): Promise<PlannedCall[]> {
    const failure = this.failNext.shift();
    if (failure) throw failure;
    this.policies.delete(grantKey);
    return [{ service: 'iam', command: principal.type === 'user' ? 'DeleteUserPolicy' : 'DeleteRolePolicy', input: { grantKey } }];
  }
}

/** A role under /rolegate/ that no grant names (tagged rolegate's), as IAM would show it to reconciliation. */
export function strayRole(accountId: string, patch: Partial<ManagedRoleState> = {}): ManagedRoleState {
  const roleName = patch.roleName ?? 'rg-ReadOnly-mallory-deadbeef';
  return {
    roleName,
    roleArn: `arn:aws:iam::${accountId}:role/rolegate/${roleName}`,
    managedByRolegate: true,
    trustPolicy: { Version: '2012-10-17', Statement: [] },
    attachedPolicyArns: ['arn:aws:iam::aws:policy/ReadOnlyAccess'],
    inlinePolicies: {},
    maxSessionDuration: 3600,
    ...patch,
  };
}
