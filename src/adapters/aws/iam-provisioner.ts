import {
  AttachRolePolicyCommand,
  CreateRoleCommand,
  DeleteRolePermissionsBoundaryCommand,
  DeleteRoleCommand,
  DeleteRolePolicyCommand,
  DetachRolePolicyCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  ListAttachedRolePoliciesCommand,
  ListRolePoliciesCommand,
  ListRolesCommand,
  ListRoleTagsCommand,
  PutRolePermissionsBoundaryCommand,
  PutRolePolicyCommand,
  TagRoleCommand,
  UpdateAssumeRolePolicyCommand,
  UpdateRoleCommand,
  type IAMClient,
  type Role,
} from '@aws-sdk/client-iam';
import { ProvisioningError } from '../../domain/errors';
import type { PlannedCall } from '../../domain/model';
import type { GrantSpec, ManagedRoleState, ProvisionOutcome, Provisioner } from '../../domain/ports';
import { desiredRole, MANAGED_TAG, parsePolicy, samePolicy, type DesiredRole } from '../../domain/provisioning/documents';
import { ROLE_PATH } from '../../domain/provisioning/role-name';
import type { AccountSettings } from '../../domain/settings';
import type { ProvisionerCredentials } from './credentials';
import { creationCalls } from './iam-commands';
import { defaultSleep, withRetry, type RetryOptions } from './retry';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const COMMANDS: Record<string, new (input: any) => any> = {
  CreateRole: CreateRoleCommand,
  AttachRolePolicy: AttachRolePolicyCommand,
  PutRolePolicy: PutRolePolicyCommand,
};

function isManaged(role: Role | undefined): boolean {
  return (role?.Tags ?? []).some((t) => t.Key === MANAGED_TAG.Key && t.Value === MANAGED_TAG.Value);
}

/**
 * The target-account side of a grant, through the account's provisioner
 * role. apply() brings a rolegate-managed role to the desired state, adding
 * what is missing and removing what the profile no longer has; it never
 * touches a role rolegate did not create.
 */
export class IamProvisioner implements Provisioner {
  constructor(
    private readonly credentials: ProvisionerCredentials,
    private readonly retry: RetryOptions = {},
    /** Reads of the trust policy after writing it, while IAM propagates. */
    private readonly readBackAttempts = 4,
  ) {}

  private async session(account: AccountSettings, requestId: string) {
    const iam = await this.credentials.iamFor({ key: account.id, roleArn: account.provisionerRoleArn, externalId: account.externalId }, requestId);
    const calls: PlannedCall[] = [];
    const send = async <T>(command: string, input: Record<string, unknown>, make: () => { input: unknown }): Promise<T> => {
      calls.push({ service: 'iam', command, input });
      return withRetry(`${command} in account ${account.id}`, () => iam.send(make() as never) as Promise<T>, this.retry);
    };
    const getRole = async (roleName: string): Promise<Role | undefined> => {
      try {
        const out = await withRetry(`GetRole in account ${account.id}`, () => iam.send(new GetRoleCommand({ RoleName: roleName })), this.retry);
        return out.Role;
      } catch (e) {
        if ((e as ProvisioningError).awsCode === 'NoSuchEntity') return undefined;
        throw e;
      }
    };
    return { iam, calls, send, getRole };
  }

  async apply(spec: GrantSpec, requestId: string): Promise<ProvisionOutcome> {
    const desired = desiredRole(spec);
    const s = await this.session(spec.account, requestId);
    const role = await s.getRole(desired.roleName);
    if (!role) {
      for (const call of creationCalls(desired)) await s.send(call.command, call.input, () => new COMMANDS[call.command]!(call.input));
    } else {
      if (!isManaged(role)) {
        throw new ProvisioningError(
          `Role ${desired.roleName} exists in account ${spec.account.id} and is not managed by rolegate; rolegate never takes over a role it did not create. Remove or rename that role.`,
          'RoleNotManaged',
          false,
        );
      }
      await this.converge(s, role, desired);
    }
    await this.readBack(s, desired, spec.account.id);
    return { roleArn: role?.Arn ?? desired.roleArn, calls: s.calls };
  }

  private async converge(s: Awaited<ReturnType<IamProvisioner['session']>>, role: Role, d: DesiredRole): Promise<void> {
    const name = d.roleName;
    if (!samePolicy(parsePolicy(role.AssumeRolePolicyDocument), d.trustPolicy)) {
      const input = { RoleName: name, PolicyDocument: JSON.stringify(d.trustPolicy) };
      await s.send('UpdateAssumeRolePolicy', input, () => new UpdateAssumeRolePolicyCommand(input));
    }
    if (role.MaxSessionDuration !== d.maxSessionDuration || role.Description !== d.description) {
      const input = { RoleName: name, MaxSessionDuration: d.maxSessionDuration, Description: d.description };
      await s.send('UpdateRole', input, () => new UpdateRoleCommand(input));
    }
    const boundary = role.PermissionsBoundary?.PermissionsBoundaryArn;
    if (d.permissionsBoundaryArn && boundary !== d.permissionsBoundaryArn) {
      const input = { RoleName: name, PermissionsBoundary: d.permissionsBoundaryArn };
      await s.send('PutRolePermissionsBoundary', input, () => new PutRolePermissionsBoundaryCommand(input));
    } else if (!d.permissionsBoundaryArn && boundary) {
      const input = { RoleName: name };
      await s.send('DeleteRolePermissionsBoundary', input, () => new DeleteRolePermissionsBoundaryCommand(input));
    }
    const current = new Map((role.Tags ?? []).map((t) => [t.Key, t.Value]));
    const changedTags = d.tags.filter((t) => current.get(t.Key) !== t.Value);
    if (changedTags.length) {
      const input = { RoleName: name, Tags: changedTags };
      await s.send('TagRole', input, () => new TagRoleCommand(input));
    }

    const attached = await this.attachedPolicies(s.iam, name);
    for (const arn of d.managedPolicyArns.filter((a) => !attached.includes(a))) {
      const input = { RoleName: name, PolicyArn: arn };
      await s.send('AttachRolePolicy', input, () => new AttachRolePolicyCommand(input));
    }
    for (const arn of attached.filter((a) => !d.managedPolicyArns.includes(a))) {
      const input = { RoleName: name, PolicyArn: arn };
      await s.send('DetachRolePolicy', input, () => new DetachRolePolicyCommand(input));
    }

    const inline = await this.inlinePolicies(s.iam, name);
    for (const policyName of inline.filter((p) => !(d.inlinePolicy && p === d.inlinePolicyName))) {
      const input = { RoleName: name, PolicyName: policyName };
      await s.send('DeleteRolePolicy', input, () => new DeleteRolePolicyCommand(input));
    }
    if (d.inlinePolicy) {
      let same = false;
      if (inline.includes(d.inlinePolicyName)) {
        const got = await withRetry('GetRolePolicy', () => s.iam.send(new GetRolePolicyCommand({ RoleName: name, PolicyName: d.inlinePolicyName })), this.retry);
        same = samePolicy(parsePolicy(got.PolicyDocument), d.inlinePolicy);
      }
      if (!same) {
        const input = { RoleName: name, PolicyName: d.inlinePolicyName, PolicyDocument: JSON.stringify(d.inlinePolicy) };
        await s.send('PutRolePolicy', input, () => new PutRolePolicyCommand(input));
      }
    }
  }

  /** IAM is eventually consistent: the trust written must be the trust read before access is handed out. */
  private async readBack(s: Awaited<ReturnType<IamProvisioner['session']>>, d: DesiredRole, accountId: string): Promise<void> {
    const sleep = this.retry.sleep ?? defaultSleep;
    for (let i = 0; i < this.readBackAttempts; i++) {
      const role = await s.getRole(d.roleName);
      if (role && samePolicy(parsePolicy(role.AssumeRolePolicyDocument), d.trustPolicy)) return;
      await sleep(250 * 2 ** i);
    }
    throw new ProvisioningError(`IAM in account ${accountId} does not yet show the trust policy written for ${d.roleName}; it will be retried.`, 'NotYetConsistent', true);
  }

  private async attachedPolicies(iam: IAMClient, roleName: string): Promise<string[]> {
    const arns: string[] = [];
    let marker: string | undefined;
    do {
      const out = await withRetry('ListAttachedRolePolicies', () => iam.send(new ListAttachedRolePoliciesCommand({ RoleName: roleName, ...(marker ? { Marker: marker } : {}) })), this.retry);
      arns.push(...(out.AttachedPolicies ?? []).map((p) => p.PolicyArn!).filter(Boolean));
      marker = out.IsTruncated ? out.Marker : undefined;
    } while (marker);
    return arns.sort();
  }

  private async inlinePolicies(iam: IAMClient, roleName: string): Promise<string[]> {
    const names: string[] = [];
    let marker: string | undefined;
    do {
      const out = await withRetry('ListRolePolicies', () => iam.send(new ListRolePoliciesCommand({ RoleName: roleName, ...(marker ? { Marker: marker } : {}) })), this.retry);
      names.push(...(out.PolicyNames ?? []));
      marker = out.IsTruncated ? out.Marker : undefined;
    } while (marker);
    return names;
  }

  /** Detaches and deletes every policy, then the role. An absent role is already removed. */
  async remove(account: AccountSettings, roleName: string, requestId: string): Promise<PlannedCall[]> {
    const s = await this.session(account, requestId);
    const role = await s.getRole(roleName);
    if (!role) return s.calls;
    if (!isManaged(role)) {
      throw new ProvisioningError(`Role ${roleName} in account ${account.id} is not managed by rolegate; rolegate will not delete it.`, 'RoleNotManaged', false);
    }
    const tolerate = async (p: Promise<unknown>) => {
      try {
        await p;
      } catch (e) {
        if ((e as ProvisioningError).awsCode !== 'NoSuchEntity') throw e;
      }
    };
    for (const arn of await this.attachedPolicies(s.iam, roleName)) {
      const input = { RoleName: roleName, PolicyArn: arn };
      await tolerate(s.send('DetachRolePolicy', input, () => new DetachRolePolicyCommand(input)));
    }
    for (const policyName of await this.inlinePolicies(s.iam, roleName)) {
      const input = { RoleName: roleName, PolicyName: policyName };
      await tolerate(s.send('DeleteRolePolicy', input, () => new DeleteRolePolicyCommand(input)));
    }
    const input = { RoleName: roleName };
    await tolerate(s.send('DeleteRole', input, () => new DeleteRoleCommand(input)));
    return s.calls;
  }

  /** Every role under rolegate's path in an account, with what reconciliation compares. */
  async listManagedRoles(account: AccountSettings): Promise<ManagedRoleState[]> {
    const s = await this.session(account, 'reconcile');
    const roles: Role[] = [];
    let marker: string | undefined;
    do {
      const out = await withRetry('ListRoles', () => s.iam.send(new ListRolesCommand({ PathPrefix: ROLE_PATH, ...(marker ? { Marker: marker } : {}) })), this.retry);
      roles.push(...(out.Roles ?? []));
      marker = out.IsTruncated ? out.Marker : undefined;
    } while (marker);
    const states: ManagedRoleState[] = [];
    for (const role of roles) {
      const name = role.RoleName!;
      const tags = await withRetry('ListRoleTags', () => s.iam.send(new ListRoleTagsCommand({ RoleName: name })), this.retry);
      states.push({
        roleName: name,
        roleArn: role.Arn!,
        managedByRolegate: isManaged({ Tags: tags.Tags } as Role),
        trustPolicy: parsePolicy(role.AssumeRolePolicyDocument),
        attachedPolicyArns: await this.attachedPolicies(s.iam, name),
        inlinePolicyNames: await this.inlinePolicies(s.iam, name),
      });
    }
    return states;
  }
}

