import {
  AttachRolePolicyCommand,
  CreateRoleCommand,
  DeleteConflictException,
  DeleteRoleCommand,
  DeleteRolePermissionsBoundaryCommand,
  DeleteRolePolicyCommand,
  DeleteUserPolicyCommand,
  DetachRolePolicyCommand,
  EntityAlreadyExistsException,
  GetRoleCommand,
  GetRolePolicyCommand,
  GetUserPolicyCommand,
  IAMClient,
  MalformedPolicyDocumentException,
  UnmodifiableEntityException,
  ListAttachedRolePoliciesCommand,
  ListRolePoliciesCommand,
  ListRolesCommand,
  NoSuchEntityException,
  PutRolePermissionsBoundaryCommand,
  PutRolePolicyCommand,
  PutUserPolicyCommand,
  TagRoleCommand,
  UpdateAssumeRolePolicyCommand,
  UpdateRoleCommand,
  type Role,
} from '@aws-sdk/client-iam';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import type { AwsClientStub } from 'aws-sdk-client-mock';
import type { TemporaryCredentials } from '../../src/adapters/aws/credentials';
import { FaultSchedule, type FaultService } from './fault-schedule';

/*
 * An in-memory IAM and STS that answer like the real services (as far as
 * rolegate uses them), behind aws-sdk-client-mock, with a fault schedule in
 * front. Several fakes may live at once (one per test world, run
 * concurrently): each SDK client is routed to the fake that created it.
 */

export interface FakeRole {
  RoleName: string;
  Path: string;
  Arn: string;
  RoleId: string;
  CreateDate: string;
  /** The trust policy as JSON text (GetRole answers it URL-encoded, as IAM does). */
  trust: string;
  Description?: string;
  MaxSessionDuration: number;
  boundary?: string;
  tags: Record<string, string>;
  attached: string[];
  inline: Record<string, string>;
}

/** What the fake holds, as plain data: equal dumps mean equal IAM state. */
export interface IamDump {
  roles: Record<string, FakeRole>;
  userPolicies: Record<string, string>;
}

type Input = Record<string, any>;

const IAM_COMMANDS = {
  GetRole: GetRoleCommand,
  CreateRole: CreateRoleCommand,
  AttachRolePolicy: AttachRolePolicyCommand,
  DetachRolePolicy: DetachRolePolicyCommand,
  PutRolePolicy: PutRolePolicyCommand,
  DeleteRolePolicy: DeleteRolePolicyCommand,
  GetRolePolicy: GetRolePolicyCommand,
  ListAttachedRolePolicies: ListAttachedRolePoliciesCommand,
  ListRolePolicies: ListRolePoliciesCommand,
  UpdateAssumeRolePolicy: UpdateAssumeRolePolicyCommand,
  UpdateRole: UpdateRoleCommand,
  TagRole: TagRoleCommand,
  PutRolePermissionsBoundary: PutRolePermissionsBoundaryCommand,
  DeleteRolePermissionsBoundary: DeleteRolePermissionsBoundaryCommand,
  DeleteRole: DeleteRoleCommand,
  ListRoles: ListRolesCommand,
  PutUserPolicy: PutUserPolicyCommand,
  DeleteUserPolicy: DeleteUserPolicyCommand,
  GetUserPolicy: GetUserPolicyCommand,
} as const;

export type IamCommand = keyof typeof IAM_COMMANDS;

/** IAM commands that change something (the rest only read). */
export const isIamWrite = (command: string) => !/^(Get|List)/.test(command);

const owners = new WeakMap<object, { aws: FakeAws; account: string }>();

/**
 * Sends every IAM and STS command of the mocked clients to the fake that
 * owns the client; an unmodelled command fails loudly.
 */
export function routeAwsMocks(iam: AwsClientStub<IAMClient>, sts: AwsClientStub<STSClient>): void {
  iam.reset();
  sts.reset();
  iam.rejects(new Error('FakeAws: IAM command not modelled'));
  sts.rejects(new Error('FakeAws: STS command not modelled'));
  for (const [name, Command] of Object.entries(IAM_COMMANDS)) {
    iam.on(Command as any).callsFake((input: Input, getClient: () => unknown) => dispatch(getClient(), 'iam', name, input));
  }
  sts.on(AssumeRoleCommand).callsFake((input: Input, getClient: () => unknown) => dispatch(getClient(), 'sts', 'AssumeRole', input));
}

function dispatch(client: unknown, service: FaultService, command: string, input: Input): Promise<unknown> {
  const owner = owners.get(client as object);
  if (!owner) return Promise.reject(new Error(`FakeAws: ${command} sent through a client no fake owns`));
  return owner.aws.handle(service, command, input, owner.account);
}

const noSuchEntity = (what: string) => new NoSuchEntityException({ message: `The ${what} cannot be found.`, $metadata: { httpStatusCode: 404 } });

/** One world's AWS: the target accounts' IAM, the identity account's IAM, and STS. */
export class FakeAws {
  private readonly roles = new Map<string, FakeRole>();
  private readonly userPolicies = new Map<string, string>();
  private roleIds = 0;
  /** Users and roles that exist outside the fake's roles; undefined: any trusted principal is taken to exist. */
  private principals: Set<string> | undefined;

  constructor(
    readonly schedule: FaultSchedule,
    private readonly now: () => Date,
    readonly region = 'eu-west-1',
  ) {}

  /** The STS client rolegate assumes provisioner roles with. */
  sts(): STSClient {
    const client = new STSClient({ region: this.region });
    owners.set(client, { aws: this, account: 'sts' });
    return client;
  }

  /** ProvisionerCredentials' IAM client factory: the client acts in the account the credentials were issued for. */
  readonly iamClientFactory = (credentials: TemporaryCredentials): IAMClient => {
    const client = new IAMClient({ region: this.region, credentials });
    owners.set(client, { aws: this, account: credentials.accessKeyId.replace(/^ASIAFAKE/, '') });
    return client;
  };

  /** An IAM client with rolegate's own credentials in an account (the identity account). */
  iamIn(account: string): IAMClient {
    const client = new IAMClient({ region: this.region });
    owners.set(client, { aws: this, account });
    return client;
  }

  /**
   * From now on, a trust policy may name only principals that exist, as in
   * IAM: these ARNs, or roles the fake holds (by their exact ARN, path
   * included). Anything else is refused as an invalid principal.
   */
  requireExistingPrincipals(arns: readonly string[] = []): void {
    this.principals = new Set(arns);
  }

  /** A role someone else made, such as an IAM Identity Center role; one under /aws-reserved/ is protected, as in IAM. */
  seedRole(account: string, roleName: string, path: string): void {
    this.iam('CreateRole', { RoleName: roleName, Path: path, AssumeRolePolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [] }) }, account);
  }

  role(account: string, roleName: string): FakeRole | undefined {
    const r = this.roles.get(`${account}/${roleName}`);
    return r ? structuredClone(r) : undefined;
  }

  /** Changes a role behind rolegate's back, as someone in the console would. */
  tamper(account: string, roleName: string, change: (role: FakeRole) => void): void {
    const r = this.roles.get(`${account}/${roleName}`);
    if (!r) throw new Error(`FakeAws: no role ${roleName} in ${account} to tamper with`);
    change(r);
  }

  userPolicy(account: string, userName: string, policyName: string): string | undefined {
    return this.userPolicies.get(`${account}/${userName}/${policyName}`);
  }

  dump(): IamDump {
    const sorted = <T>(m: Map<string, T>) => Object.fromEntries([...m.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, structuredClone(v)]));
    return { roles: sorted(this.roles), userPolicies: sorted(this.userPolicies) };
  }

  /**
   * Runs before every call, ahead of the fault schedule: a test pauses a run
   * at a chosen call (by awaiting), starts another run there, or fails it.
   */
  onCall: ((service: FaultService, command: string, input: Input) => Promise<void> | void) | undefined;

  /** One call: the test's hook, the fault schedule, then IAM's behaviour. */
  async handle(service: FaultService, command: string, input: Input, account: string): Promise<unknown> {
    await this.onCall?.(service, command, input);
    const fault = this.schedule.next(service, command);
    if (fault && fault.effect === 'before') {
      if (fault.outcome === 'halt') return this.schedule.halt();
      throw fault.error!();
    }
    let result: unknown;
    let refused: unknown;
    try {
      result = service === 'sts' ? this.assumeRole(input) : this.iam(command, input, account);
    } catch (e) {
      refused = e;
      // Numbered just above, with nothing awaited since: the last call numbered is this one.
      this.schedule.refusedLast();
    }
    if (fault) {
      if (fault.outcome === 'halt') return this.schedule.halt();
      throw fault.error!();
    }
    if (refused) throw refused;
    return result;
  }

  private assumeRole(input: Input): unknown {
    const account = /^arn:aws[\w-]*:iam::(\d{12}):role\//.exec(String(input.RoleArn))?.[1];
    if (!account) throw Object.assign(new Error(`Invalid RoleArn ${input.RoleArn}`), { name: 'ValidationError', $metadata: { httpStatusCode: 400 } });
    const expiration = new Date(this.now().getTime() + (input.DurationSeconds ?? 3600) * 1000);
    return {
      Credentials: { AccessKeyId: `ASIAFAKE${account}`, SecretAccessKey: 'fake-secret', SessionToken: `fake-token-${account}`, Expiration: expiration },
      AssumedRoleUser: { Arn: `arn:aws:sts::${account}:assumed-role/rolegate-provisioner/${input.RoleSessionName}`, AssumedRoleId: 'AROAFAKE:session' },
    };
  }

  /** IAM resolves every principal of a trust policy when it is saved; an unknown one makes the document invalid. */
  private checkTrust(document: string): void {
    const trust = JSON.parse(document) as { Statement?: { Principal?: { AWS?: string | string[] } }[] };
    // IAM refuses a bare "*" principal in a role's trust ("STAR"): every principal is {"AWS": "*"} there.
    if ((trust.Statement ?? []).some((st) => (st.Principal as unknown) === '*')) throw new MalformedPolicyDocumentException({ message: 'AssumeRolepolicy contained an invalid principal: "STAR":"*".', $metadata: { httpStatusCode: 400 } });
    if (!this.principals) return;
    const known = new Set([...this.principals, ...[...this.roles.values()].map((r) => r.Arn)]);
    for (const statement of trust.Statement ?? []) {
      for (const arn of [statement.Principal?.AWS ?? []].flat()) {
        // `*` is every principal, which IAM takes (a Deny of everyone, say); any other must exist.
        if (arn !== '*' && !known.has(arn)) throw new MalformedPolicyDocumentException({ message: `Invalid principal in policy: "AWS":"${arn}"`, $metadata: { httpStatusCode: 400 } });
      }
    }
  }

  /** Roles under /aws-reserved/ are AWS's to change (IAM Identity Center). */
  private modifiable(role: FakeRole): FakeRole {
    if (role.Path.startsWith('/aws-reserved/')) {
      throw new UnmodifiableEntityException({ message: `Cannot perform the operation on the protected role '${role.RoleName}' - this role is only modifiable by AWS`, $metadata: { httpStatusCode: 400 } });
    }
    return role;
  }

  private existing(account: string, roleName: string): FakeRole {
    const role = this.roles.get(`${account}/${roleName}`);
    if (!role) throw noSuchEntity(`role with name ${roleName}`);
    return role;
  }

  private iam(command: string, input: Input, account: string): unknown {
    const name = String(input.RoleName ?? '');
    switch (command as IamCommand) {
      case 'GetRole':
        return { Role: this.asRole(this.existing(account, name)) };
      case 'CreateRole': {
        if (this.roles.has(`${account}/${name}`)) {
          throw new EntityAlreadyExistsException({ message: `Role with name ${name} already exists.`, $metadata: { httpStatusCode: 409 } });
        }
        this.checkTrust(String(input.AssumeRolePolicyDocument));
        const path = input.Path ?? '/';
        this.roles.set(`${account}/${name}`, {
          RoleName: name,
          Path: path,
          Arn: `arn:aws:iam::${account}:role${path}${name}`,
          RoleId: `AROAFAKE${++this.roleIds}`,
          CreateDate: this.now().toISOString(),
          trust: String(input.AssumeRolePolicyDocument),
          ...(input.Description !== undefined ? { Description: input.Description } : {}),
          MaxSessionDuration: input.MaxSessionDuration ?? 3600,
          ...(input.PermissionsBoundary ? { boundary: input.PermissionsBoundary } : {}),
          tags: Object.fromEntries(((input.Tags ?? []) as { Key: string; Value: string }[]).map((t) => [t.Key, t.Value])),
          attached: [],
          inline: {},
        });
        return { Role: this.asRole(this.existing(account, name)) };
      }
      case 'AttachRolePolicy': {
        const role = this.existing(account, name);
        if (!role.attached.includes(input.PolicyArn)) role.attached = [...role.attached, input.PolicyArn].sort();
        return {};
      }
      case 'DetachRolePolicy': {
        const role = this.existing(account, name);
        if (!role.attached.includes(input.PolicyArn)) throw noSuchEntity(`policy ${input.PolicyArn} attached to role ${name}`);
        role.attached = role.attached.filter((a) => a !== input.PolicyArn);
        return {};
      }
      case 'PutRolePolicy':
        JSON.parse(String(input.PolicyDocument));
        this.modifiable(this.existing(account, name)).inline[input.PolicyName] = String(input.PolicyDocument);
        return {};
      case 'DeleteRolePolicy': {
        const role = this.existing(account, name);
        if (!(input.PolicyName in role.inline)) throw noSuchEntity(`role policy with name ${input.PolicyName}`);
        delete role.inline[input.PolicyName];
        return {};
      }
      case 'GetRolePolicy': {
        const doc = this.existing(account, name).inline[input.PolicyName];
        if (doc === undefined) throw noSuchEntity(`role policy with name ${input.PolicyName}`);
        return { RoleName: name, PolicyName: input.PolicyName, PolicyDocument: encodeURIComponent(doc) };
      }
      case 'ListAttachedRolePolicies':
        return { AttachedPolicies: this.existing(account, name).attached.map((arn) => ({ PolicyArn: arn, PolicyName: arn.split('/').at(-1) })), IsTruncated: false };
      case 'ListRolePolicies':
        return { PolicyNames: Object.keys(this.existing(account, name).inline).sort(), IsTruncated: false };
      case 'UpdateAssumeRolePolicy':
        this.checkTrust(String(input.PolicyDocument));
        this.existing(account, name).trust = String(input.PolicyDocument);
        return {};
      case 'UpdateRole': {
        const role = this.existing(account, name);
        if (input.MaxSessionDuration !== undefined) role.MaxSessionDuration = input.MaxSessionDuration;
        if (input.Description !== undefined) role.Description = input.Description;
        return {};
      }
      case 'TagRole': {
        const role = this.existing(account, name);
        for (const t of input.Tags as { Key: string; Value: string }[]) role.tags[t.Key] = t.Value;
        return {};
      }
      case 'PutRolePermissionsBoundary':
        this.existing(account, name).boundary = input.PermissionsBoundary;
        return {};
      case 'DeleteRolePermissionsBoundary':
        delete this.existing(account, name).boundary;
        return {};
      case 'DeleteRole': {
        const role = this.existing(account, name);
        if (role.attached.length || Object.keys(role.inline).length) {
          throw new DeleteConflictException({ message: 'Cannot delete entity, must detach all policies first.', $metadata: { httpStatusCode: 409 } });
        }
        this.roles.delete(`${account}/${name}`);
        return {};
      }
      case 'ListRoles': {
        // As IAM: a listing omits each role's tags and permissions boundary (GetRole has them).
        const prefix = input.PathPrefix ?? '/';
        const roles = [...this.roles.entries()].filter(([k, r]) => k.startsWith(`${account}/`) && r.Path.startsWith(prefix)).map(([, r]) => ({ ...this.asRole(r), Tags: undefined, PermissionsBoundary: undefined }));
        return { Roles: roles, IsTruncated: false };
      }
      case 'PutUserPolicy':
        JSON.parse(String(input.PolicyDocument));
        this.userPolicies.set(`${account}/${input.UserName}/${input.PolicyName}`, String(input.PolicyDocument));
        return {};
      case 'DeleteUserPolicy': {
        const key = `${account}/${input.UserName}/${input.PolicyName}`;
        if (!this.userPolicies.has(key)) throw noSuchEntity(`user policy with name ${input.PolicyName}`);
        this.userPolicies.delete(key);
        return {};
      }
      case 'GetUserPolicy': {
        const doc = this.userPolicies.get(`${account}/${input.UserName}/${input.PolicyName}`);
        if (doc === undefined) throw noSuchEntity(`user policy with name ${input.PolicyName}`);
        return { UserName: input.UserName, PolicyName: input.PolicyName, PolicyDocument: encodeURIComponent(doc) };
      }
    }
    throw new Error(`FakeAws: IAM ${command} not modelled`);
  }

  private asRole(r: FakeRole): Role {
    return {
      RoleName: r.RoleName,
      Path: r.Path,
      Arn: r.Arn,
      RoleId: r.RoleId,
      CreateDate: new Date(r.CreateDate),
      AssumeRolePolicyDocument: encodeURIComponent(r.trust),
      ...(r.Description !== undefined ? { Description: r.Description } : {}),
      MaxSessionDuration: r.MaxSessionDuration,
      ...(r.boundary ? { PermissionsBoundary: { PermissionsBoundaryType: 'PermissionsBoundaryPolicy', PermissionsBoundaryArn: r.boundary } } : {}),
      Tags: Object.entries(r.tags).map(([Key, Value]) => ({ Key, Value })),
    };
  }
}
