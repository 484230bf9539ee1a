import {
  AttachRolePolicyCommand,
  CreateRoleCommand,
  DeleteRoleCommand,
  DeleteRolePolicyCommand,
  DetachRolePolicyCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  IAMClient,
  ListAttachedRolePoliciesCommand,
  ListRolePoliciesCommand,
  NoSuchEntityException,
  PutRolePolicyCommand,
  PutUserPolicyCommand,
  TagRoleCommand,
  UpdateAssumeRolePolicyCommand,
  type Role,
} from '@aws-sdk/client-iam';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { ProvisionerCredentials } from '../../../src/adapters/aws/credentials';
import { IamProvisioner } from '../../../src/adapters/aws/iam-provisioner';
import { IamIdentityGranter, identityPolicyName } from '../../../src/adapters/aws/identity-granter';
import { DryRunProvisioner } from '../../../src/adapters/aws/dry-run';
import { ProvisioningError } from '../../../src/domain/errors';
import type { GrantSpec } from '../../../src/domain/ports';
import { parsePrincipalArn } from '../../../src/domain/principal';
import { desiredRole } from '../../../src/domain/provisioning/documents';
import { roleNameFor } from '../../../src/domain/provisioning/role-name';
import { exampleSettings } from '../../helpers/settings';
import { FixedClock } from '../../helpers/harness';

const settings = exampleSettings();
const sts = mockClient(STSClient);
const iam = mockClient(IAMClient);
const noSleep = { sleep: async () => undefined };

function spec(over: Partial<GrantSpec> = {}): GrantSpec {
  const principal = parsePrincipalArn('arn:aws:iam::111111111111:user/alice');
  const profile = settings.profiles.find((p) => p.name === 'S3ReadOnly')!;
  const account = settings.accounts.find((a) => a.alias === 'production')!;
  const roleName = roleNameFor(profile.name, principal);
  return { grantKey: `${account.id}#${roleName}`, account, profile, principal, roleName, endsAt: '2026-03-02T10:00:00.000Z', requestIds: ['01REQ'], partition: 'aws', ...over };
}

function credentials(clock = new FixedClock()) {
  return new ProvisionerCredentials(new STSClient({ region: 'eu-west-1' }), clock, (c) => new IAMClient({ region: 'eu-west-1', credentials: c }), noSleep);
}

const stsCredentials = (expiration: string) => ({
  Credentials: { AccessKeyId: 'ASIAEXAMPLE', SecretAccessKey: 'secret', SessionToken: 'token', Expiration: new Date(expiration) },
});

function managedRole(s: GrantSpec, trust: unknown, extra: Partial<Role> = {}): Role {
  const d = desiredRole(s);
  return {
    RoleName: d.roleName, Path: '/rolegate/', Arn: d.roleArn, RoleId: 'AROAEXAMPLE', CreateDate: new Date(),
    AssumeRolePolicyDocument: encodeURIComponent(JSON.stringify(trust)), MaxSessionDuration: d.maxSessionDuration, Description: d.description, Tags: d.tags, ...extra,
  };
}

/** Commands IAM received, by name, in order (reads included). */
const sent = () => iam.calls().map((c) => (c.args[0] as { constructor: { name: string } }).constructor.name.replace(/Command$/, ''));

beforeEach(() => {
  sts.reset();
  iam.reset();
  sts.on(AssumeRoleCommand).resolves(stsCredentials('2026-03-02T10:00:00.000Z'));
});

describe('IamProvisioner', () => {
  it('creates a new role with its trust, managed and inline policies, then reads the trust back', async () => {
    const s = spec();
    const d = desiredRole(s);
    iam.on(GetRoleCommand).rejectsOnce(new NoSuchEntityException({ message: 'not found', $metadata: {} })).resolves({ Role: managedRole(s, d.trustPolicy) });

    const out = await new IamProvisioner(credentials(), noSleep).apply(s, '01REQ');

    expect(sts).toHaveReceivedCommandTimes(AssumeRoleCommand, 1);
    expect(sts).toHaveReceivedCommandWith(AssumeRoleCommand, { RoleArn: 'arn:aws:iam::333333333333:role/rolegate-provisioner', ExternalId: 'rolegate-production-91c2', RoleSessionName: 'rolegate-01REQ', DurationSeconds: 3600 });
    expect(sent()).toEqual(['GetRole', 'CreateRole', 'AttachRolePolicy', 'PutRolePolicy', 'GetRole']);
    const create = iam.commandCalls(CreateRoleCommand)[0]!.args[0].input;
    expect(create).toMatchObject({ Path: '/rolegate/', RoleName: s.roleName, MaxSessionDuration: 3600 });
    expect(JSON.parse(create.AssumeRolePolicyDocument!)).toEqual({
      Version: '2012-10-17',
      Statement: [{ Sid: 'RolegateGrant', Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::111111111111:user/alice' }, Action: 'sts:AssumeRole', Condition: { DateLessThan: { 'aws:CurrentTime': '2026-03-02T10:00:00.000Z' } } }],
    });
    expect(create.Tags).toContainEqual({ Key: 'managed-by', Value: 'rolegate' });
    expect(iam.commandCalls(AttachRolePolicyCommand)[0]!.args[0].input).toEqual({ RoleName: s.roleName, PolicyArn: 'arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess' });
    const inline = iam.commandCalls(PutRolePolicyCommand)[0]!.args[0].input;
    expect(JSON.parse(inline.PolicyDocument!)).toEqual(s.profile.inlinePolicy);
    expect(out.roleArn).toBe(`arn:aws:iam::333333333333:role/rolegate/${s.roleName}`);
    expect(out.calls.map((c) => c.command)).toEqual(['CreateRole', 'AttachRolePolicy', 'PutRolePolicy']);
  });

  it('brings an existing managed role with drifted trust and an extra policy back to the desired state', async () => {
    const s = spec();
    const d = desiredRole(s);
    const drifted = { ...d.trustPolicy, Statement: [{ ...d.trustPolicy.Statement[0], Principal: { AWS: 'arn:aws:iam::111111111111:user/mallory' } }] };
    iam.on(GetRoleCommand).resolvesOnce({ Role: managedRole(s, drifted) }).resolves({ Role: managedRole(s, d.trustPolicy) });
    iam.on(ListAttachedRolePoliciesCommand).resolves({ AttachedPolicies: [{ PolicyArn: 'arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess' }, { PolicyArn: 'arn:aws:iam::aws:policy/AdministratorAccess' }] });
    iam.on(ListRolePoliciesCommand).resolves({ PolicyNames: ['rolegate-profile', 'sneaky'] });
    iam.on(GetRolePolicyCommand).resolves({ PolicyDocument: encodeURIComponent(JSON.stringify(s.profile.inlinePolicy)) });

    await new IamProvisioner(credentials(), noSleep).apply(s, '01REQ');

    expect(sent()).toEqual(['GetRole', 'UpdateAssumeRolePolicy', 'ListAttachedRolePolicies', 'DetachRolePolicy', 'ListRolePolicies', 'DeleteRolePolicy', 'GetRolePolicy', 'GetRole']);
    expect(JSON.parse(iam.commandCalls(UpdateAssumeRolePolicyCommand)[0]!.args[0].input.PolicyDocument!)).toEqual(d.trustPolicy);
    expect(iam).toHaveReceivedCommandWith(DetachRolePolicyCommand, { RoleName: s.roleName, PolicyArn: 'arn:aws:iam::aws:policy/AdministratorAccess' });
    expect(iam).toHaveReceivedCommandWith(DeleteRolePolicyCommand, { RoleName: s.roleName, PolicyName: 'sneaky' });
    expect(iam).not.toHaveReceivedCommand(CreateRoleCommand);
  });

  it('never takes over a same-name role that rolegate does not manage', async () => {
    const s = spec();
    iam.on(GetRoleCommand).resolves({ Role: { ...managedRole(s, desiredRole(s).trustPolicy), Tags: [{ Key: 'team', Value: 'payments' }] } });

    const error = await new IamProvisioner(credentials(), noSleep).apply(s, '01REQ').catch((e) => e);

    expect(error).toBeInstanceOf(ProvisioningError);
    expect(error).toMatchObject({ awsCode: 'RoleNotManaged', retryable: false });
    expect(error.message).toContain('is not managed by rolegate');
    expect(sent()).toEqual(['GetRole']);
  });

  it('retries throttling and then succeeds', async () => {
    const s = spec();
    const d = desiredRole(s);
    const throttled = Object.assign(new Error('Rate exceeded'), { name: 'Throttling', $metadata: { httpStatusCode: 400 } });
    iam.on(GetRoleCommand).rejectsOnce(throttled).rejectsOnce(new NoSuchEntityException({ message: 'x', $metadata: {} })).resolves({ Role: managedRole(s, d.trustPolicy) });
    iam.on(CreateRoleCommand).rejectsOnce(throttled).resolves({});

    await new IamProvisioner(credentials(), noSleep).apply(s, '01REQ');

    expect(iam).toHaveReceivedCommandTimes(CreateRoleCommand, 2);
    expect(sent()).toEqual(['GetRole', 'GetRole', 'CreateRole', 'CreateRole', 'AttachRolePolicy', 'PutRolePolicy', 'GetRole']);
  });

  it('turns AccessDenied into a permanent failure with the AWS code and a plain reason', async () => {
    const s = spec();
    iam.on(GetRoleCommand).rejects(new NoSuchEntityException({ message: 'x', $metadata: {} }));
    iam.on(CreateRoleCommand).rejects(Object.assign(new Error('User is not authorized to perform: iam:CreateRole'), { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } }));

    const error = await new IamProvisioner(credentials(), noSleep).apply(s, '01REQ').catch((e) => e);

    expect(error).toMatchObject({ awsCode: 'AccessDenied', retryable: false });
    expect(error.message).toBe(
      'CreateRole in account 333333333333 failed: rolegate is not allowed to do this in the target account: deploy or update the provisioner role from templates/provisioner-role.yaml (AccessDenied: User is not authorized to perform: iam:CreateRole)',
    );
    expect(iam).toHaveReceivedCommandTimes(CreateRoleCommand, 1);
  });

  it('converges when re-run after a crash right after CreateRole', async () => {
    const s = spec();
    const d = desiredRole(s);
    iam.on(GetRoleCommand).rejects(new NoSuchEntityException({ message: 'x', $metadata: {} }));
    iam.on(AttachRolePolicyCommand).rejects(new Error('socket hang up'));
    const provisioner = new IamProvisioner(credentials(), noSleep);
    await expect(provisioner.apply(s, '01REQ')).rejects.toThrow();

    // The role now exists with its trust and tags, but nothing attached.
    iam.reset();
    iam.on(GetRoleCommand).resolves({ Role: managedRole(s, d.trustPolicy) });
    iam.on(ListAttachedRolePoliciesCommand).resolves({ AttachedPolicies: [] });
    iam.on(ListRolePoliciesCommand).resolves({ PolicyNames: [] });
    await provisioner.apply(s, '01REQ');

    expect(sent()).toEqual(['GetRole', 'ListAttachedRolePolicies', 'AttachRolePolicy', 'ListRolePolicies', 'PutRolePolicy', 'GetRole']);
    expect(iam).not.toHaveReceivedCommand(CreateRoleCommand);
  });

  it('fails retryably when IAM does not yet show the trust it was given', async () => {
    const s = spec();
    iam.on(GetRoleCommand).rejectsOnce(new NoSuchEntityException({ message: 'x', $metadata: {} })).resolves({ Role: managedRole(s, { Version: '2012-10-17', Statement: [] }) });
    const error = await new IamProvisioner(credentials(), noSleep, 3).apply(s, '01REQ').catch((e) => e);
    expect(error).toMatchObject({ awsCode: 'NotYetConsistent', retryable: true });
  });

  it('removes policies then the role, and treats an absent role as already removed', async () => {
    const s = spec();
    iam.on(GetRoleCommand).resolves({ Role: managedRole(s, desiredRole(s).trustPolicy) });
    iam.on(ListAttachedRolePoliciesCommand).resolves({ AttachedPolicies: [{ PolicyArn: 'arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess' }] });
    iam.on(ListRolePoliciesCommand).resolves({ PolicyNames: ['rolegate-profile'] });
    const provisioner = new IamProvisioner(credentials(), noSleep);
    await provisioner.remove(s.account, s.roleName, '01REQ');
    expect(sent()).toEqual(['GetRole', 'ListAttachedRolePolicies', 'DetachRolePolicy', 'ListRolePolicies', 'DeleteRolePolicy', 'DeleteRole']);

    iam.reset();
    iam.on(GetRoleCommand).rejects(new NoSuchEntityException({ message: 'x', $metadata: {} }));
    await expect(provisioner.remove(s.account, s.roleName, '01REQ')).resolves.toEqual([]);
    expect(iam).not.toHaveReceivedCommand(DeleteRoleCommand);
  });
});

describe('ProvisionerCredentials', () => {
  it('assumes once per account across three grants, again only near expiry, and once per account for three accounts', async () => {
    const clock = new FixedClock(new Date('2026-03-02T09:00:00.000Z'));
    const creds = credentials(clock);
    const [staging, production] = settings.accounts;
    const target = (a: typeof staging) => ({ key: a!.id, roleArn: a!.provisionerRoleArn, externalId: a!.externalId });
    await Promise.all([creds.iamFor(target(staging), 'r1'), creds.iamFor(target(staging), 'r2'), creds.iamFor(target(staging), 'r3')]);
    expect(sts).toHaveReceivedCommandTimes(AssumeRoleCommand, 1);

    clock.set('2026-03-02T09:54:00.000Z');
    await creds.iamFor(target(staging), 'r4');
    expect(sts).toHaveReceivedCommandTimes(AssumeRoleCommand, 1);
    clock.set('2026-03-02T09:56:00.000Z');
    await creds.iamFor(target(staging), 'r5');
    expect(sts).toHaveReceivedCommandTimes(AssumeRoleCommand, 2);

    await creds.iamFor(target(production), 'r6');
    await creds.iamFor({ key: '444444444444', roleArn: 'arn:aws:iam::444444444444:role/rolegate-provisioner', externalId: 'x1' }, 'r7');
    expect(sts).toHaveReceivedCommandTimes(AssumeRoleCommand, 4);
  });
});

describe('IamIdentityGranter', () => {
  it('puts an inline policy on the user allowing sts:AssumeRole on exactly the role until the end', async () => {
    const client = new IAMClient({ region: 'eu-west-1' });
    const granter = new IamIdentityGranter(async () => client, noSleep);
    const alice = parsePrincipalArn('arn:aws:iam::111111111111:user/alice');
    await granter.grant(alice, 'arn:aws:iam::333333333333:role/rolegate/rg-x', '2026-03-02T10:00:00.000Z', '333333333333#rg-x');
    const input = iam.commandCalls(PutUserPolicyCommand)[0]!.args[0].input;
    expect(input.UserName).toBe('alice');
    expect(input.PolicyName).toBe(identityPolicyName('333333333333#rg-x'));
    expect(JSON.parse(input.PolicyDocument!)).toEqual({
      Version: '2012-10-17',
      Statement: [{ Sid: 'RolegateAssume', Effect: 'Allow', Action: 'sts:AssumeRole', Resource: 'arn:aws:iam::333333333333:role/rolegate/rg-x', Condition: { DateLessThan: { 'aws:CurrentTime': '2026-03-02T10:00:00.000Z' } } }],
    });
  });
});

describe('DryRunProvisioner', () => {
  it('records the plan and sends nothing', async () => {
    const out = await new DryRunProvisioner(settings).apply(spec(), '01REQ');
    expect(out.calls.map((c) => `${c.service}:${c.command}`)).toEqual(['sts:AssumeRole', 'iam:CreateRole', 'iam:AttachRolePolicy', 'iam:PutRolePolicy']);
    expect(sts.calls()).toHaveLength(0);
    expect(iam.calls()).toHaveLength(0);
  });
});

describe('tags', () => {
  it('re-tags a managed role whose request list changed', async () => {
    const s = spec({ requestIds: ['01A', '01B'] });
    const d = desiredRole(s);
    const old = desiredRole(spec({ requestIds: ['01A'] }));
    iam.on(GetRoleCommand).resolves({ Role: managedRole(s, d.trustPolicy, { Tags: old.tags }) });
    iam.on(ListAttachedRolePoliciesCommand).resolves({ AttachedPolicies: [{ PolicyArn: 'arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess' }] });
    iam.on(ListRolePoliciesCommand).resolves({ PolicyNames: ['rolegate-profile'] });
    iam.on(GetRolePolicyCommand).resolves({ PolicyDocument: encodeURIComponent(JSON.stringify(s.profile.inlinePolicy)) });
    await new IamProvisioner(credentials(), noSleep).apply(s, '01B');
    expect(iam).toHaveReceivedCommandWith(TagRoleCommand, { RoleName: s.roleName, Tags: [{ Key: 'rolegate:requests', Value: '01A 01B' }] });
  });
});
