import {
  AttachRolePolicyCommand,
  CreateRoleCommand,
  DeleteRolePolicyCommand,
  DeleteUserPolicyCommand,
  GetRoleCommand,
  GetUserCommand,
  IAMClient,
  PutRolePolicyCommand,
  PutUserPolicyCommand,
} from '@aws-sdk/client-iam';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { DryRunIdentityGranter, DryRunProvisioner } from '../../../src/adapters/aws/dry-run';
import { IamProvisioner } from '../../../src/adapters/aws/iam-provisioner';
import { IamIdentityGranter, identityPolicyName } from '../../../src/adapters/aws/identity-granter';
import { identityPolicy } from '../../../src/domain/provisioning/documents';
import { account, alice, awsError, billingApp, END, grantSpec, instantRetry, noSuchEntity, parsed, profile, provisionerCredentials, roleInIam, stsCredentials } from './fixtures';

const sts = mockClient(STSClient);
const iam = mockClient(IAMClient);

const ROLE = 'arn:aws:iam::333333333333:role/rolegate/rg-S3ReadOnly-alice-1a2b3c4d';
const KEY = '333333333333#rg-S3ReadOnly-alice-1a2b3c4d';

beforeEach(() => {
  sts.reset();
  iam.reset();
  sts.on(AssumeRoleCommand).resolves(stsCredentials('2026-03-02T10:00:00.000Z'));
});

describe('IamIdentityGranter', () => {
  const granter = () => new IamIdentityGranter(new IAMClient({ region: 'eu-west-1' }), instantRetry().options);

  it('puts an inline policy on the user allowing sts:AssumeRole on exactly the role until the end', async () => {
    const calls = await granter().grant(alice, ROLE, END, KEY);

    expect(iam.commandCalls(PutUserPolicyCommand)).toHaveLength(1);
    const input = iam.commandCalls(PutUserPolicyCommand)[0]!.args[0].input;
    expect({ ...input, PolicyDocument: parsed(input.PolicyDocument) }).toEqual({
      UserName: 'alice',
      PolicyName: identityPolicyName(KEY),
      PolicyDocument: {
        Version: '2012-10-17',
        Statement: [{ Sid: 'RolegateAssume', Effect: 'Allow', Action: ['sts:AssumeRole', 'sts:SetSourceIdentity'], Resource: ROLE, Condition: { DateLessThan: { 'aws:CurrentTime': END } } }],
      },
    });
    expect(identityPolicyName(KEY)).toMatch(/^rolegate-[0-9a-f]{16}$/);
    expect(calls.map((c) => c.command)).toEqual(['PutUserPolicy']);
  });

  it('puts the policy on a workload role with PutRolePolicy', async () => {
    await granter().grant(billingApp, ROLE, END, KEY);

    expect(iam).toHaveReceivedCommandTimes(PutRolePolicyCommand, 1);
    expect(iam).not.toHaveReceivedCommand(PutUserPolicyCommand);
    const input = iam.commandCalls(PutRolePolicyCommand)[0]!.args[0].input;
    expect({ ...input, PolicyDocument: parsed(input.PolicyDocument) }).toEqual({ RoleName: 'app-billing', PolicyName: identityPolicyName(KEY), PolicyDocument: identityPolicy(ROLE, END) });
  });

  it('explains the per-user inline policy quota when IAM refuses one more policy', async () => {
    iam.on(PutUserPolicyCommand).rejects(awsError('LimitExceededException', 'Maximum policy size of 2048 bytes exceeded for user alice', 409));

    await expect(granter().grant(alice, ROLE, END, KEY)).rejects.toMatchObject({
      awsCode: 'LimitExceeded',
      retryable: false,
      message: expect.stringMatching(/2,048 characters for a user.*every live grant adds one rolegate-\* policy/),
    });
  });

  it('revokes by deleting the policy, and treats an already deleted one as revoked', async () => {
    await expect(granter().revoke(alice, KEY)).resolves.toEqual([{ service: 'iam', command: 'DeleteUserPolicy', input: { UserName: 'alice', PolicyName: identityPolicyName(KEY) } }]);
    expect(iam).toHaveReceivedCommandWith(DeleteUserPolicyCommand, { UserName: 'alice', PolicyName: identityPolicyName(KEY) });

    iam.reset();
    iam.on(DeleteRolePolicyCommand).rejects(noSuchEntity());
    await expect(granter().revoke(billingApp, KEY)).resolves.toEqual([]);
    expect(iam).toHaveReceivedCommandWith(DeleteRolePolicyCommand, { RoleName: 'app-billing', PolicyName: identityPolicyName(KEY) });
  });

  it('treats an AccessDenied delete on a principal IAM no longer knows as revoked (its path is unknown to IAM, so a path pattern refuses it)', async () => {
    iam.on(DeleteUserPolicyCommand).rejects(awsError('AccessDeniedException', 'User is not authorized to perform: iam:DeleteUserPolicy on resource: user alice', 403));
    iam.on(GetUserCommand).rejects(noSuchEntity());

    await expect(granter().revoke(alice, KEY)).resolves.toEqual([]);
    expect(iam.commandCalls(GetUserCommand).map((c) => c.args[0].input)).toEqual([{ UserName: 'alice' }]);

    iam.reset();
    iam.on(DeleteRolePolicyCommand).rejects(awsError('AccessDeniedException', 'not authorized', 403));
    iam.on(GetRoleCommand).rejects(noSuchEntity());
    await expect(granter().revoke(billingApp, KEY)).resolves.toEqual([]);
    expect(iam.commandCalls(GetRoleCommand).map((c) => c.args[0].input)).toEqual([{ RoleName: 'app-billing' }]);
  });

  it('keeps the AccessDenied of a principal that still exists, or that it may not read', async () => {
    iam.on(DeleteUserPolicyCommand).rejects(awsError('AccessDeniedException', 'not authorized', 403));
    iam.on(GetUserCommand).resolves({ User: { UserName: 'alice', UserId: 'AIDA', Arn: 'arn:aws:iam::111111111111:user/alice', Path: '/', CreateDate: new Date() } });
    await expect(granter().revoke(alice, KEY)).rejects.toMatchObject({ awsCode: 'AccessDenied', retryable: false });

    iam.on(GetUserCommand).rejects(awsError('AccessDeniedException', 'not authorized to perform: iam:GetUser', 403));
    await expect(granter().revoke(alice, KEY)).rejects.toMatchObject({ awsCode: 'AccessDenied', retryable: false });
  });

  it("gives each of a user's grants its own policy, so ending one leaves the others", async () => {
    const other = '222222222222#rg-EC2Admin-alice-5e6f7a8b';
    const otherRole = 'arn:aws:iam::222222222222:role/rolegate/rg-EC2Admin-alice-5e6f7a8b';
    await granter().grant(alice, ROLE, END, KEY);
    await granter().grant(alice, otherRole, END, other);
    await granter().revoke(alice, KEY);

    const put = iam.commandCalls(PutUserPolicyCommand).map((c) => c.args[0].input);
    expect(put.map((i) => [i.PolicyName, (parsed(i.PolicyDocument) as { Statement: { Resource: string }[] }).Statement[0]!.Resource])).toEqual([
      [identityPolicyName(KEY), ROLE],
      [identityPolicyName(other), otherRole],
    ]);
    expect(identityPolicyName(other)).not.toBe(identityPolicyName(KEY));
    expect(iam.commandCalls(DeleteUserPolicyCommand).map((c) => c.args[0].input)).toEqual([{ UserName: 'alice', PolicyName: identityPolicyName(KEY) }]);
  });

  it('revokes from a workload role with DeleteRolePolicy on that role and policy', async () => {
    await expect(granter().revoke(billingApp, KEY)).resolves.toEqual([
      { service: 'iam', command: 'DeleteRolePolicy', input: { RoleName: 'app-billing', PolicyName: identityPolicyName(KEY) } },
    ]);
    expect(iam.commandCalls(DeleteRolePolicyCommand).map((c) => c.args[0].input)).toEqual([{ RoleName: 'app-billing', PolicyName: identityPolicyName(KEY) }]);
    expect(iam).not.toHaveReceivedCommand(DeleteUserPolicyCommand);
  });

  it('takes its IAM client from a function, to act through an assumed identity-granter role', async () => {
    const client = new IAMClient({ region: 'eu-west-1' });
    const source = jest.fn(async () => client);
    await new IamIdentityGranter(source).grant(alice, ROLE, END, KEY);
    expect(source).toHaveBeenCalledTimes(1);
    expect(iam).toHaveReceivedCommandTimes(PutUserPolicyCommand, 1);
  });
});

describe('DryRunProvisioner', () => {
  it('records the plan and sends nothing to STS or IAM', async () => {
    const spec = grantSpec();

    const outcome = await new DryRunProvisioner().apply(spec, '01REQ');

    expect(outcome.roleArn).toBe(`arn:aws:iam::333333333333:role/rolegate/${spec.roleName}`);
    expect(outcome.calls.map((c) => `${c.service}:${c.command}`)).toEqual(['sts:AssumeRole', 'iam:CreateRole', 'iam:PutRolePolicy', 'iam:AttachRolePolicy']);
    expect(outcome.calls[0]!.input).toEqual({
      RoleArn: 'arn:aws:iam::333333333333:role/rolegate-provisioner',
      RoleSessionName: 'rolegate-01REQ',
      DurationSeconds: 3600,
      ExternalId: '(accounts[].externalId)',
    });
    expect(sts.calls()).toHaveLength(0);
    expect(iam.calls()).toHaveLength(0);
  });

  it('plans exactly the IAM writes the real provisioner sends for a new role', async () => {
    const spec = grantSpec({ profile: profile('EC2Admin') });
    iam.on(GetRoleCommand).rejectsOnce(noSuchEntity()).resolves({ Role: roleInIam(spec) });
    const real = await new IamProvisioner(provisionerCredentials(), instantRetry().options).apply(spec, '01REQ');
    const sent = iam
      .calls()
      .filter((c) => [CreateRoleCommand, AttachRolePolicyCommand, PutRolePolicyCommand].some((C) => c.args[0] instanceof C))
      .map((c) => (c.args[0] as { input: unknown }).input);

    const plan = await new DryRunProvisioner().apply(spec, '01REQ');

    expect(plan.calls.slice(1)).toEqual(real.calls);
    expect(plan.calls.slice(1).map((c) => c.input)).toEqual(sent);
    expect(plan.roleArn).toBe(real.roleArn);
  });

  it('validates the documents the same way as the real provisioner', async () => {
    const spec = grantSpec({ principal: billingApp, externalId: 'x'.repeat(3000) });
    await expect(new DryRunProvisioner().apply(spec, '01REQ')).rejects.toMatchObject({ retryable: false, message: expect.stringMatching(/^The trust policy is \d+ characters/) });
  });

  it('plans removal with placeholders for the policies it would list', async () => {
    const calls = await new DryRunProvisioner().remove(account('staging'), 'rg-x', '01REQ');
    expect(calls.map((c) => c.command)).toEqual(['AssumeRole', 'ListAttachedRolePolicies', 'DetachRolePolicy', 'ListRolePolicies', 'DeleteRolePolicy', 'DeleteRole']);
    expect(sts.calls()).toHaveLength(0);
    expect(iam.calls()).toHaveLength(0);
  });
});

describe('DryRunIdentityGranter', () => {
  it('records the identity-account calls and sends nothing', async () => {
    const granter = new DryRunIdentityGranter();
    expect(await granter.grant(alice, ROLE, END, KEY)).toEqual([
      { service: 'iam', command: 'PutUserPolicy', input: { UserName: 'alice', PolicyName: identityPolicyName(KEY), PolicyDocument: JSON.stringify(identityPolicy(ROLE, END)) } },
    ]);
    expect(await granter.revoke(billingApp, KEY)).toEqual([{ service: 'iam', command: 'DeleteRolePolicy', input: { RoleName: 'app-billing', PolicyName: identityPolicyName(KEY) } }]);
    expect(iam.calls()).toHaveLength(0);
  });
});
