import {
  AttachRolePolicyCommand,
  CreateRoleCommand,
  DeleteRoleCommand,
  DeleteRolePermissionsBoundaryCommand,
  DeleteRolePolicyCommand,
  DetachRolePolicyCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  IAMClient,
  ListAttachedRolePoliciesCommand,
  ListRolePoliciesCommand,
  ListRolesCommand,
  PutRolePermissionsBoundaryCommand,
  PutRolePolicyCommand,
  TagRoleCommand,
  UpdateAssumeRolePolicyCommand,
  UpdateRoleCommand,
} from '@aws-sdk/client-iam';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { IamProvisioner } from '../../../src/adapters/aws/iam-provisioner';
import { REQUEST_ID } from '../../../src/domain/text';
import { ProvisioningError } from '../../../src/domain/errors';
import { parsePrincipalArn } from '../../../src/domain/principal';
import { desiredRole, policySize, trustBeforeSourceIdentity, trustPolicy } from '../../../src/domain/provisioning/documents';
import {
  account,
  awsError,
  commandNames,
  END,
  grantSpec,
  instantRetry,
  ManualClock,
  noSuchEntity,
  parsed,
  profile,
  provisionerCredentials,
  roleInIam,
  stsCredentials,
} from './fixtures';

const sts = mockClient(STSClient);
const iam = mockClient(IAMClient);

/** IAM commands sent that change something; none may be sent when rolegate must not touch a role. */
const writesSent = () => commandNames(iam).filter((name) => !/^(Get|List)/.test(name));

const S3_READ = 'arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess';
const ADMIN = 'arn:aws:iam::aws:policy/AdministratorAccess';

function provisioner(clock = new ManualClock()) {
  const retry = instantRetry();
  return { provisioner: new IamProvisioner(provisionerCredentials(clock), retry.options), waits: retry.waits };
}

/** The S3ReadOnly profile's inline policy as PutRolePolicy must send it: the profile's own statement, then the end of access, which cuts sessions issued before the end. */
function s3ReadOnlyInlinePolicy(roleName: string) {
  return {
    RoleName: roleName,
    PolicyName: 'rolegate-profile',
    PolicyDocument: {
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Deny', Action: 's3:GetObject', Resource: 'arn:aws:s3:::*-secrets/*' },
        { Sid: 'RolegateAccessEnds', Effect: 'Deny', Action: '*', Resource: '*', Condition: { DateGreaterThan: { 'aws:CurrentTime': END } } },
      ],
    },
  };
}

/** What reconciliation should read for a managed role holding exactly its S3ReadOnly grant. */
function managedState(spec: ReturnType<typeof grantSpec>) {
  const d = desiredRole(spec);
  return {
    roleName: spec.roleName,
    roleArn: d.roleArn,
    managedByRolegate: true,
    trustPolicy: trustPolicy(spec),
    attachedPolicyArns: [S3_READ],
    inlinePolicies: { [d.inlinePolicyName]: d.inlinePolicy },
    maxSessionDuration: d.maxSessionDuration,
    // What its rolegate:requests tag names that is a request id (this fixture's short ids are none).
    requestIds: spec.requestIds.filter((id) => REQUEST_ID.test(id)),
  };
}

/** IAM answers for a role that already holds the S3ReadOnly profile's policies (by default, for grantSpec()'s end). */
function holdsS3ReadOnlyPolicies(inline: unknown = desiredRole(grantSpec()).inlinePolicy) {
  iam.on(ListAttachedRolePoliciesCommand).resolves({ AttachedPolicies: [{ PolicyName: 'AmazonS3ReadOnlyAccess', PolicyArn: S3_READ }] });
  iam.on(ListRolePoliciesCommand).resolves({ PolicyNames: ['rolegate-profile'] });
  iam.on(GetRolePolicyCommand).resolves({ RoleName: 'x', PolicyName: 'rolegate-profile', PolicyDocument: encodeURIComponent(JSON.stringify(inline)) });
}

const ALLOW_ALL = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] };
/** An inline policy someone put on the role by hand, named added-by-hand. */
function addedByHand(document: unknown) {
  iam.on(GetRolePolicyCommand, { PolicyName: 'added-by-hand' }).resolves({ RoleName: 'x', PolicyName: 'added-by-hand', PolicyDocument: encodeURIComponent(JSON.stringify(document)) });
}

beforeEach(() => {
  sts.reset();
  iam.reset();
  sts.on(AssumeRoleCommand).resolves(stsCredentials('2026-03-02T10:00:00.000Z'));
});

describe('IamProvisioner.apply', () => {
  it('never writes a grantee back into a trust IAM voided when that grantee was deleted (a principal of the name now is someone else)', async () => {
    const spec = grantSpec({ endsAt: '2026-03-02T12:00:00.000Z' });
    const trust = trustPolicy(grantSpec());
    const voided = { ...trust, Statement: [{ ...trust.Statement[0], Principal: { AWS: 'AIDAJQABLZS4A3QDU576Q' } }] };
    iam.on(GetRoleCommand).resolves({ Role: roleInIam(grantSpec(), { trust: voided }) });

    await expect(provisioner().provisioner.apply(spec, '01REQ')).rejects.toMatchObject({
      awsCode: 'PrincipalDeleted',
      retryable: false,
      message: expect.stringContaining(`trusts AIDAJQABLZS4A3QDU576Q, IAM's id for a grantee deleted since the role was granted`),
    });
    expect(writesSent()).toEqual([]);
  });

  it('leaves a deleted principal out of a responder\'s trust Deny (it denies nobody now) rather than refuse the role as voided', async () => {
    const before = grantSpec({ endsAt: '2026-03-02T12:00:00.000Z' });
    const spec = grantSpec();
    const denyTwo = { Sid: 'Incident7', Effect: 'Deny', Principal: { AWS: ['AIDAJQABLZS4A3QDU576Q', 'arn:aws:iam::111111111111:user/mallory'] }, Action: 'sts:AssumeRole' };
    const denyGone = { Effect: 'Deny', Principal: { AWS: 'AROAJQABLZS4A3QDU576Q' }, Action: 'sts:AssumeRole' };
    const live = { ...trustPolicy(before), Statement: [...trustPolicy(before).Statement, denyTwo, denyGone] };
    const written = { ...trustPolicy(spec), Statement: [...trustPolicy(spec).Statement, { ...denyTwo, Principal: { AWS: 'arn:aws:iam::111111111111:user/mallory' } }] };
    iam.on(GetRoleCommand).resolvesOnce({ Role: roleInIam(before, { trust: live }) }).resolves({ Role: roleInIam(spec, { trust: written }) });
    holdsS3ReadOnlyPolicies(desiredRole(before).inlinePolicy);

    await provisioner().provisioner.apply(spec, '01REQ');

    expect(parsed(iam.commandCalls(UpdateAssumeRolePolicyCommand)[0]!.args[0].input.PolicyDocument)).toEqual(written);
  });

  /** The statement of a locked-down role's trust: it admits nobody. */
  const LOCK = { Sid: 'RolegateLockedDown', Effect: 'Deny', Principal: { AWS: '*' }, Action: 'sts:AssumeRole' };

  it('locks a role down, and fails for good, when its kept Denies would take its trust past IAM\'s quota (it may hold more than its grant)', async () => {
    const before = grantSpec({ endsAt: '2026-03-02T12:00:00.000Z' });
    const spec = grantSpec();
    // Someone shortened rolegate's grant statement and padded the trust with a Deny: IAM took it (2,048 characters at
    // most), but rolegate's statement as it writes it, beside that Deny, would not fit.
    const many: string[] = [];
    const padding = { Effect: 'Deny', Principal: { AWS: many }, Action: 'sts:AssumeRole' };
    while (policySize({ ...trustPolicy(spec), Statement: [...trustPolicy(spec).Statement, padding] }) <= 2048) many.push(`arn:aws:iam::111111111111:user/padding-${many.length}`);
    const shortened = { Sid: 'RolegateGrant', Effect: 'Allow', Principal: { AWS: spec.principal.arn }, Action: 'sts:AssumeRole' };
    const live = { Version: '2012-10-17', Statement: [shortened, padding] };
    expect(policySize(live)).toBeLessThanOrEqual(2048);
    iam.on(GetRoleCommand).resolves({ Role: roleInIam(before, { trust: live }) });
    holdsS3ReadOnlyPolicies(desiredRole(before).inlinePolicy);

    await expect(provisioner().provisioner.apply(spec, '01REQ')).rejects.toMatchObject({
      awsCode: 'RoleLockedDown',
      retryable: false,
      message: expect.stringMatching(
        new RegExp(`^Role ${spec.roleName} in account ${spec.account.id} holds Denies rolegate did not write, which it keeps, and with them its trust policy would be \\d+ characters without whitespace, over this account's quota of 2048\\. rolegate locked the role down`),
      ),
    });
    // The trust admits nobody (the Deny it held kept beside the lock, as it fits where rolegate's grant was); the
    // managed policy is taken off; the profile policy, with its end of access, is left.
    // What allows goes first, the lock last (a lock on the role means the lockdown is whole).
    expect(writesSent()).toEqual(['DetachRolePolicy', 'UpdateAssumeRolePolicy']);
    expect(parsed(iam.commandCalls(UpdateAssumeRolePolicyCommand)[0]!.args[0].input.PolicyDocument)).toEqual({ Version: '2012-10-17', Statement: [LOCK, padding] });
    expect(iam.commandCalls(DetachRolePolicyCommand).map((c) => c.args[0].input)).toEqual([{ RoleName: spec.roleName, PolicyArn: S3_READ }]);
  });

  it('counts a kept AWSDenyAll against the managed-policy quota: past it, the role is locked down and AWSDenyAll stays', async () => {
    const spec = grantSpec({ account: { ...account('production'), managedPoliciesPerRoleMax: 10 }, profile: { ...profile('S3ReadOnly'), managedPolicyArns: Array.from({ length: 10 }, (_, i) => `arn:aws:iam::aws:policy/Policy${i}`) } });
    iam.on(GetRoleCommand).resolves({ Role: roleInIam(spec) });
    iam.on(ListRolePoliciesCommand).resolves({ PolicyNames: ['rolegate-profile'] });
    iam.on(GetRolePolicyCommand).resolves({ PolicyDocument: encodeURIComponent(JSON.stringify(desiredRole(spec).inlinePolicy)) });
    iam.on(ListAttachedRolePoliciesCommand).resolves({ AttachedPolicies: [S3_READ, 'arn:aws:iam::aws:policy/AWSDenyAll'].map((PolicyArn) => ({ PolicyArn })) });

    await expect(provisioner().provisioner.apply(spec, '01REQ')).rejects.toMatchObject({
      awsCode: 'RoleLockedDown',
      retryable: false,
      message: expect.stringContaining("and with them it would hold 11 managed policies, over this account's 10 per role."),
    });
    expect(writesSent()).toEqual(['DetachRolePolicy', 'UpdateAssumeRolePolicy']);
    expect(parsed(iam.commandCalls(UpdateAssumeRolePolicyCommand)[0]!.args[0].input.PolicyDocument)).toEqual({ Version: '2012-10-17', Statement: [LOCK] });
    expect(iam.commandCalls(DetachRolePolicyCommand).map((c) => c.args[0].input)).toEqual([{ RoleName: spec.roleName, PolicyArn: S3_READ }]);
  });

  it('changes nothing on a locked-down role, joining or leaving, until a person takes the lock out', async () => {
    const spec = grantSpec();
    iam.on(GetRoleCommand).resolves({ Role: roleInIam(spec, { trust: { Version: '2012-10-17', Statement: [LOCK] } }) });
    holdsS3ReadOnlyPolicies();
    iam.on(ListAttachedRolePoliciesCommand).resolves({ AttachedPolicies: [] });

    for (const options of [{}, { existingOnly: true }]) {
      await expect(provisioner().provisioner.apply(spec, '01REQ', options)).rejects.toMatchObject({
        awsCode: 'RoleLockedDown',
        retryable: false,
        message: `Role ${spec.roleName} in account ${spec.account.id} is locked down (statement RolegateLockedDown in its trust): it admits nobody, and rolegate changes nothing on it until a person takes that statement out.`,
      });
    }
    expect(writesSent()).toEqual([]);
  });

  it.each([
    ['as written', LOCK],
    ['with a list of principals and actions', { ...LOCK, Principal: { AWS: ['*'] }, Action: ['sts:AssumeRole'] }],
    ['over every principal and every STS action', { ...LOCK, Principal: '*', Action: 'sts:*' }],
  ])('recognises the lock %s, and writes nothing, not even to take off a policy someone attached since', async (_form, lock) => {
    const spec = grantSpec();
    iam.on(GetRoleCommand).resolves({ Role: roleInIam(spec, { trust: { Version: '2012-10-17', Statement: [lock] } }) });
    holdsS3ReadOnlyPolicies();

    await expect(provisioner().provisioner.apply(spec, '01REQ', { existingOnly: true })).rejects.toMatchObject({ awsCode: 'RoleLockedDown', retryable: false });
    expect(writesSent()).toEqual([]);
  });

  it('takes a statement that only borrows the lock\'s Sid (an Allow) for no lock: the trust is written as the grant\'s', async () => {
    const spec = grantSpec();
    const borrowed = { Version: '2012-10-17', Statement: [{ Sid: 'RolegateLockedDown', Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::111111111111:user/mallory' }, Action: 'sts:AssumeRole' }] };
    iam.on(GetRoleCommand).resolvesOnce({ Role: roleInIam(spec, { trust: borrowed }) }).resolves({ Role: roleInIam(spec) });
    holdsS3ReadOnlyPolicies();

    await provisioner().provisioner.apply(spec, '01REQ');

    expect(parsed(iam.commandCalls(UpdateAssumeRolePolicyCommand)[0]!.args[0].input.PolicyDocument)).toEqual(trustPolicy(spec));
  });

  it('keeps a Deny under a Sid it gives without that Sid (IAM refuses one twice): its grant turned into a Deny, a profile statement edited since', async () => {
    const edited = { ...profile('S3ReadOnly'), inlinePolicy: { Version: '2012-10-17' as const, Statement: [{ Sid: 'NoSecrets', Effect: 'Deny' as const, Action: 's3:GetObject', Resource: 'arn:aws:s3:::*-vault/*' }] } };
    const original = { ...edited, inlinePolicy: { Version: '2012-10-17' as const, Statement: [{ Sid: 'NoSecrets', Effect: 'Deny' as const, Action: 's3:GetObject', Resource: 'arn:aws:s3:::*-secrets/*' }] } };
    const spec = grantSpec({ profile: edited });
    const grant = trustPolicy(spec).Statement[0]!;
    // A responder turned rolegate's grant statement into a Deny.
    const contained = { ...trustPolicy(spec), Statement: [{ ...grant, Effect: 'Deny' }] };
    const { Sid: _grantSid, ...containedUnnamed } = { ...grant, Effect: 'Deny' } as Record<string, unknown>;
    const written = { ...trustPolicy(spec), Statement: [...trustPolicy(spec).Statement, containedUnnamed] };
    iam.on(GetRoleCommand).resolvesOnce({ Role: roleInIam(spec, { trust: contained }) }).resolves({ Role: roleInIam(spec, { trust: written }) });
    holdsS3ReadOnlyPolicies(desiredRole(grantSpec({ profile: original })).inlinePolicy);

    await provisioner().provisioner.apply(spec, '01REQ');

    expect(parsed(iam.commandCalls(UpdateAssumeRolePolicyCommand)[0]!.args[0].input.PolicyDocument)).toEqual(written);
    const desired = desiredRole(spec).inlinePolicy;
    const { Sid: _sid, ...oldUnnamed } = original.inlinePolicy.Statement[0]!;
    expect(iam.commandCalls(PutRolePolicyCommand).map((c) => parsed(c.args[0].input.PolicyDocument))).toEqual([{ ...desired, Statement: [...desired.Statement, oldUnnamed] }]);
  });

  it('never brings back a role deleted outside rolegate when only changing its grant (existingOnly): RoleMissing, nothing written', async () => {
    const spec = grantSpec();
    iam.on(GetRoleCommand).rejects(noSuchEntity());

    const { provisioner: p, waits } = provisioner();
    await expect(p.apply(spec, '01REQ', { existingOnly: true })).rejects.toMatchObject({
      awsCode: 'RoleMissing',
      retryable: false,
      message: `Role ${spec.roleName} in account ${spec.account.id} is missing (deleted outside rolegate, perhaps on purpose): rolegate does not re-create it while changing or repairing its grant.`,
    });
    // Read four times, 250 ms, 500 ms and 1 s apart, as IAM may not show a role created moments ago.
    expect(waits).toEqual([250, 500, 1000]);
    expect(commandNames(iam)).toEqual(['GetRole', 'GetRole', 'GetRole', 'GetRole']);
    expect(iam.commandCalls(GetRoleCommand).map((c) => c.args[0].input)).toEqual(Array(4).fill({ RoleName: spec.roleName }));
  });

  it('changes a role IAM did not show at the first read but does at the next (existingOnly), creating nothing', async () => {
    const spec = grantSpec();
    iam.on(GetRoleCommand).rejectsOnce(noSuchEntity()).resolves({ Role: roleInIam(spec) });
    holdsS3ReadOnlyPolicies();
    const { provisioner: p, waits } = provisioner();

    await expect(p.apply(spec, '01REQ', { existingOnly: true })).resolves.toMatchObject({ roleArn: desiredRole(spec).roleArn });
    expect(waits).toEqual([250]);
    expect(commandNames(iam).filter((c) => c === 'GetRole')).toHaveLength(2);
    expect(commandNames(iam)).not.toContain('CreateRole');
  });

  it('creates a new role with its trust, tags, managed and inline policies, then reads the trust back', async () => {
    const spec = grantSpec();
    iam.on(GetRoleCommand).rejectsOnce(noSuchEntity()).resolves({ Role: roleInIam(spec) });
    const { provisioner: p } = provisioner();

    const outcome = await p.apply(spec, '01REQ');

    expect(sts).toHaveReceivedCommandTimes(AssumeRoleCommand, 1);
    expect(sts).toHaveReceivedCommandWith(AssumeRoleCommand, {
      RoleArn: 'arn:aws:iam::333333333333:role/rolegate-provisioner',
      ExternalId: 'rolegate-production-91c2',
      RoleSessionName: 'rolegate-01REQ',
      DurationSeconds: 3600,
    });
    expect(commandNames(iam)).toEqual(['GetRole', 'CreateRole', 'PutRolePolicy', 'AttachRolePolicy', 'GetRole']);
    const create = iam.commandCalls(CreateRoleCommand)[0]!.args[0].input;
    expect({ ...create, AssumeRolePolicyDocument: parsed(create.AssumeRolePolicyDocument) }).toEqual({
      Path: '/rolegate/',
      RoleName: spec.roleName,
      AssumeRolePolicyDocument: {
        Version: '2012-10-17',
        Statement: [
          { Sid: 'RolegateGrant', Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::111111111111:user/alice' }, Action: ['sts:AssumeRole', 'sts:SetSourceIdentity'], Condition: { DateLessThan: { 'aws:CurrentTime': END }, StringEqualsIfExists: { 'sts:SourceIdentity': '${aws:SourceIdentity}' } } },
        ],
      },
      MaxSessionDuration: 3600,
      Description: 'rolegate grant: S3ReadOnly for arn:aws:iam::111111111111:user/alice',
      Tags: [
        { Key: 'managed-by', Value: 'rolegate' },
        { Key: 'rolegate:grant-key', Value: `333333333333_${spec.roleName}` },
        { Key: 'rolegate:profile', Value: 'S3ReadOnly' },
        { Key: 'rolegate:principal', Value: 'arn:aws:iam::111111111111:user/alice' },
        { Key: 'rolegate:requests', Value: '01REQ' },
        { Key: 'rolegate:ends-at', Value: END },
      ],
    });
    expect(iam.commandCalls(AttachRolePolicyCommand)[0]!.args[0].input).toEqual({ RoleName: spec.roleName, PolicyArn: S3_READ });
    const inline = iam.commandCalls(PutRolePolicyCommand)[0]!.args[0].input;
    expect({ ...inline, PolicyDocument: parsed(inline.PolicyDocument) }).toEqual(s3ReadOnlyInlinePolicy(spec.roleName));
    expect(outcome.roleArn).toBe(`arn:aws:iam::333333333333:role/rolegate/${spec.roleName}`);
    expect(outcome.calls.map((c) => c.command)).toEqual(['CreateRole', 'PutRolePolicy', 'AttachRolePolicy']);
  });

  it('writes to a role it has just created again while IAM does not show it yet (NoSuchEntity), at 250 ms, then 500 ms', async () => {
    const spec = grantSpec();
    iam.on(GetRoleCommand).rejectsOnce(noSuchEntity()).resolves({ Role: roleInIam(spec) });
    iam.on(PutRolePolicyCommand).rejectsOnce(noSuchEntity()).rejectsOnce(noSuchEntity()).resolves({});
    const { provisioner: p, waits } = provisioner();

    const outcome = await p.apply(spec, '01REQ');

    expect(commandNames(iam)).toEqual(['GetRole', 'CreateRole', 'PutRolePolicy', 'PutRolePolicy', 'PutRolePolicy', 'AttachRolePolicy', 'GetRole']);
    expect(waits).toEqual([250, 500]);
    expect(outcome.calls.map((c) => c.command)).toEqual(['CreateRole', 'PutRolePolicy', 'AttachRolePolicy']);
  });

  it('leaves a new role IAM still does not show after four tries for the next attempt (NotYetConsistent, retryable), not FAILED', async () => {
    const spec = grantSpec();
    iam.on(GetRoleCommand).rejects(noSuchEntity());
    iam.on(PutRolePolicyCommand).rejects(noSuchEntity());

    await expect(provisioner().provisioner.apply(spec, '01REQ')).rejects.toMatchObject({ awsCode: 'NotYetConsistent', retryable: true });
    expect(iam).toHaveReceivedCommandTimes(PutRolePolicyCommand, 4);
    expect(iam).not.toHaveReceivedCommand(AttachRolePolicyCommand);
  });

  describe('a write to a role IAM does not show yet, refused as AccessDenied (authorised against role/<name>, without the path)', () => {
    const denied = () => awsError('AccessDenied', 'User is not authorized to perform: iam:PutRolePolicy on resource: role rg-x', 403);

    it('is tried again as NoSuchEntity is, and goes through once IAM shows the role', async () => {
      const spec = grantSpec();
      iam.on(GetRoleCommand).rejectsOnce(noSuchEntity()).resolves({ Role: roleInIam(spec) });
      iam.on(PutRolePolicyCommand).rejectsOnce(denied()).resolves({});
      const { provisioner: p, waits } = provisioner();

      const outcome = await p.apply(spec, '01REQ');

      expect(commandNames(iam)).toEqual(['GetRole', 'CreateRole', 'PutRolePolicy', 'PutRolePolicy', 'AttachRolePolicy', 'GetRole']);
      expect(waits).toEqual([250]);
      expect(outcome.calls.map((c) => c.command)).toEqual(['CreateRole', 'PutRolePolicy', 'AttachRolePolicy']);
    });

    it('still refused while IAM does not show the role: left for the next attempt (NotYetConsistent, retryable)', async () => {
      const spec = grantSpec();
      iam.on(GetRoleCommand).rejects(noSuchEntity());
      iam.on(PutRolePolicyCommand).rejects(denied());

      await expect(provisioner().provisioner.apply(spec, '01REQ')).rejects.toMatchObject({ awsCode: 'NotYetConsistent', retryable: true });
      expect(iam).toHaveReceivedCommandTimes(PutRolePolicyCommand, 4);
    });

    it('still refused while IAM shows the role: a refusal of its own (AccessDenied, not retryable)', async () => {
      const spec = grantSpec();
      iam.on(GetRoleCommand).rejectsOnce(noSuchEntity()).resolves({ Role: roleInIam(spec) });
      iam.on(PutRolePolicyCommand).rejects(denied());

      await expect(provisioner().provisioner.apply(spec, '01REQ')).rejects.toMatchObject({ awsCode: 'AccessDenied', retryable: false });
      expect(iam).toHaveReceivedCommandTimes(PutRolePolicyCommand, 4);
      expect(iam).not.toHaveReceivedCommand(AttachRolePolicyCommand);
    });
  });

  it('creates the role with its permissions boundary, MFA condition and longer session where the profile has them', async () => {
    const spec = grantSpec({ profile: profile('EC2Admin') });
    iam.on(GetRoleCommand).rejectsOnce(noSuchEntity()).resolves({ Role: roleInIam(spec) });

    await provisioner().provisioner.apply(spec, '01REQ');

    const create = iam.commandCalls(CreateRoleCommand)[0]!.args[0].input;
    expect(create).toMatchObject({ PermissionsBoundary: 'arn:aws:iam::aws:policy/PowerUserAccess', MaxSessionDuration: 7200 });
    expect(parsed(create.AssumeRolePolicyDocument)).toEqual(trustPolicy(spec));
    expect(commandNames(iam)).toEqual(['GetRole', 'CreateRole', 'PutRolePolicy', 'AttachRolePolicy', 'GetRole']);
    // A profile without an inline policy still gets the end of access.
    expect(parsed(iam.commandCalls(PutRolePolicyCommand)[0]!.args[0].input.PolicyDocument)).toEqual({
      Version: '2012-10-17',
      Statement: [{ Sid: 'RolegateAccessEnds', Effect: 'Deny', Action: '*', Resource: '*', Condition: { DateGreaterThan: { 'aws:CurrentTime': END } } }],
    });
  });

  it('brings an existing managed role with drifted trust and an extra policy back to the desired state', async () => {
    const spec = grantSpec();
    const d = desiredRole(spec);
    const drifted = { ...d.trustPolicy, Statement: [{ ...d.trustPolicy.Statement[0], Principal: { AWS: 'arn:aws:iam::111111111111:user/mallory' } }] };
    iam.on(GetRoleCommand).resolvesOnce({ Role: roleInIam(spec, { trust: drifted }) }).resolves({ Role: roleInIam(spec) });
    holdsS3ReadOnlyPolicies();
    iam.on(ListAttachedRolePoliciesCommand).resolves({ AttachedPolicies: [{ PolicyArn: S3_READ }, { PolicyArn: ADMIN }] });
    iam.on(ListRolePoliciesCommand).resolves({ PolicyNames: ['rolegate-profile', 'added-by-hand'] });
    addedByHand(ALLOW_ALL);

    const outcome = await provisioner().provisioner.apply(spec, '01REQ');

    // Everything it keeps is read and checked against IAM's limits before the first write; the trust narrows first.
    expect(commandNames(iam)).toEqual([
      'GetRole',
      'ListRolePolicies',
      'GetRolePolicy',
      'GetRolePolicy',
      'ListAttachedRolePolicies',
      'UpdateAssumeRolePolicy',
      'DetachRolePolicy',
      'DeleteRolePolicy',
      'GetRole',
    ]);
    const update = iam.commandCalls(UpdateAssumeRolePolicyCommand)[0]!.args[0].input;
    expect({ ...update, PolicyDocument: parsed(update.PolicyDocument) }).toEqual({ RoleName: spec.roleName, PolicyDocument: trustPolicy(spec) });
    expect(iam).toHaveReceivedCommandWith(DetachRolePolicyCommand, { RoleName: spec.roleName, PolicyArn: ADMIN });
    expect(iam).toHaveReceivedCommandWith(DeleteRolePolicyCommand, { RoleName: spec.roleName, PolicyName: 'added-by-hand' });
    expect(iam).not.toHaveReceivedCommand(CreateRoleCommand);
    expect(iam).not.toHaveReceivedCommand(PutRolePolicyCommand);
    expect(outcome.calls.map((c) => c.command)).toEqual(['UpdateAssumeRolePolicy', 'DetachRolePolicy', 'DeleteRolePolicy']);
  });

  it('keeps a Deny-only inline policy it did not write (a responder\'s "Revoke active sessions") while it moves the grant\'s end', async () => {
    const before = grantSpec();
    const spec = grantSpec({ endsAt: '2026-03-02T12:00:00.000Z' });
    iam.on(GetRoleCommand).resolvesOnce({ Role: roleInIam(before) }).resolves({ Role: roleInIam(spec) });
    holdsS3ReadOnlyPolicies(desiredRole(before).inlinePolicy);
    iam.on(ListRolePoliciesCommand).resolves({ PolicyNames: ['AWSRevokeOlderSessions', 'rolegate-profile'] });
    const revokeOlderSessions = {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Deny', Action: ['*'], Resource: ['*'], Condition: { DateLessThan: { 'aws:TokenIssueTime': '2026-03-02T09:30:00.000Z' } } }],
    };
    iam.on(GetRolePolicyCommand, { PolicyName: 'AWSRevokeOlderSessions' }).resolves({ RoleName: 'x', PolicyName: 'AWSRevokeOlderSessions', PolicyDocument: encodeURIComponent(JSON.stringify(revokeOlderSessions)) });

    const outcome = await provisioner().provisioner.apply(spec, '01REQ');

    expect(iam).not.toHaveReceivedCommand(DeleteRolePolicyCommand);
    expect(outcome.calls.map((c) => c.command)).toEqual(['TagRole', 'PutRolePolicy', 'UpdateAssumeRolePolicy']);
  });

  it('writes its own Denies afresh, keeping none of them as another\'s: an end of access moved, a hold left by a crash', async () => {
    const before = grantSpec();
    const spec = grantSpec({ endsAt: '2026-03-02T12:00:00.000Z' });
    const hold = { Sid: 'RolegateProfileChanging', Effect: 'Deny', Action: '*', Resource: '*' };
    iam.on(GetRoleCommand).resolvesOnce({ Role: roleInIam(before) }).resolves({ Role: roleInIam(spec) });
    const live = desiredRole(before).inlinePolicy;
    holdsS3ReadOnlyPolicies({ ...live, Statement: [...live.Statement, hold] });

    await provisioner().provisioner.apply(spec, '01REQ');

    const put = iam.commandCalls(PutRolePolicyCommand).map((c) => parsed(c.args[0].input.PolicyDocument));
    expect(put).toEqual([desiredRole(spec).inlinePolicy]);
    expect(parsed(iam.commandCalls(UpdateAssumeRolePolicyCommand)[0]!.args[0].input.PolicyDocument)).toEqual(trustPolicy(spec));
  });

  it('keeps AWSDenyAll and the Denies a responder added to the trust and the profile policy, in the documents it writes', async () => {
    const before = grantSpec({ endsAt: '2026-03-02T12:00:00.000Z' });
    const spec = grantSpec();
    const trustDeny = { Effect: 'Deny', Principal: { AWS: '*' }, Action: 'sts:AssumeRole' };
    const profileDeny = { Effect: 'Deny', Action: 's3:*', Resource: '*' };
    const liveTrust = { ...trustPolicy(before), Statement: [...trustPolicy(before).Statement, trustDeny] };
    const written = { ...trustPolicy(spec), Statement: [...trustPolicy(spec).Statement, trustDeny] };
    iam.on(GetRoleCommand).resolvesOnce({ Role: roleInIam(before, { trust: liveTrust }) }).resolves({ Role: roleInIam(spec, { trust: written }) });
    const live = desiredRole(before).inlinePolicy;
    holdsS3ReadOnlyPolicies({ ...live, Statement: [...live.Statement, profileDeny] });
    iam.on(ListAttachedRolePoliciesCommand).resolves({ AttachedPolicies: [{ PolicyArn: S3_READ }, { PolicyArn: 'arn:aws:iam::aws:policy/AWSDenyAll' }] });

    const outcome = await provisioner().provisioner.apply(spec, '01REQ');

    // An earlier end narrows: the trust first. Nothing detached; both Denies written back beside rolegate's documents.
    expect(outcome.calls.map((c) => c.command)).toEqual(['UpdateAssumeRolePolicy', 'TagRole', 'PutRolePolicy']);
    expect(parsed(iam.commandCalls(UpdateAssumeRolePolicyCommand)[0]!.args[0].input.PolicyDocument)).toEqual(written);
    const desired = desiredRole(spec).inlinePolicy;
    expect(parsed(iam.commandCalls(PutRolePolicyCommand)[0]!.args[0].input.PolicyDocument)).toEqual({ ...desired, Statement: [...desired.Statement, profileDeny] });
    expect(iam).not.toHaveReceivedCommand(DetachRolePolicyCommand);
  });

  it('reads the profile policy even when ListRolePolicies does not list it yet (IAM lists lag), and keeps the Deny a responder put in it', async () => {
    const before = grantSpec();
    const spec = grantSpec({ endsAt: '2026-03-02T12:00:00.000Z' });
    const profileDeny = { Effect: 'Deny', Action: 's3:*', Resource: '*' };
    iam.on(GetRoleCommand).resolvesOnce({ Role: roleInIam(before) }).resolves({ Role: roleInIam(spec) });
    const live = desiredRole(before).inlinePolicy;
    holdsS3ReadOnlyPolicies({ ...live, Statement: [...live.Statement, profileDeny] });
    iam.on(ListRolePoliciesCommand).resolves({ PolicyNames: [] });

    await provisioner().provisioner.apply(spec, '01REQ');

    expect(iam.commandCalls(GetRolePolicyCommand).map((c) => c.args[0].input)).toEqual([{ RoleName: spec.roleName, PolicyName: 'rolegate-profile' }]);
    const desired = desiredRole(spec).inlinePolicy;
    expect(iam.commandCalls(PutRolePolicyCommand).map((c) => parsed(c.args[0].input.PolicyDocument))).toEqual([{ ...desired, Statement: [...desired.Statement, profileDeny] }]);
  });

  it('reads every page of a role\'s policies: one added by hand on a later page is removed too', async () => {
    const spec = grantSpec();
    iam.on(GetRoleCommand).resolves({ Role: roleInIam(spec) });
    holdsS3ReadOnlyPolicies();
    iam
      .on(ListAttachedRolePoliciesCommand, { RoleName: spec.roleName })
      .resolves({ AttachedPolicies: [{ PolicyArn: S3_READ }], IsTruncated: true, Marker: 'page-2' })
      .on(ListAttachedRolePoliciesCommand, { RoleName: spec.roleName, Marker: 'page-2' })
      .resolves({ AttachedPolicies: [{ PolicyArn: ADMIN }], IsTruncated: false });
    iam
      .on(ListRolePoliciesCommand, { RoleName: spec.roleName })
      .resolves({ PolicyNames: ['rolegate-profile'], IsTruncated: true, Marker: 'names-2' })
      .on(ListRolePoliciesCommand, { RoleName: spec.roleName, Marker: 'names-2' })
      .resolves({ PolicyNames: ['added-by-hand'], IsTruncated: false });
    addedByHand(ALLOW_ALL);

    await provisioner().provisioner.apply(spec, '01REQ');

    expect(iam.commandCalls(ListAttachedRolePoliciesCommand).map((c) => c.args[0].input)).toEqual([{ RoleName: spec.roleName }, { RoleName: spec.roleName, Marker: 'page-2' }]);
    expect(iam.commandCalls(ListRolePoliciesCommand).map((c) => c.args[0].input)).toEqual([{ RoleName: spec.roleName }, { RoleName: spec.roleName, Marker: 'names-2' }]);
    expect(iam.commandCalls(DetachRolePolicyCommand).map((c) => c.args[0].input)).toEqual([{ RoleName: spec.roleName, PolicyArn: ADMIN }]);
    expect(iam.commandCalls(DeleteRolePolicyCommand).map((c) => c.args[0].input)).toEqual([{ RoleName: spec.roleName, PolicyName: 'added-by-hand' }]);
  });

  it('follows a changed profile: session length, boundary, policies and inline policy, removing before adding', async () => {
    const before = grantSpec({ profile: profile('EC2Admin') });
    const spec = grantSpec({ profile: { ...profile('S3ReadOnly'), name: 'EC2Admin' } });
    iam.on(GetRoleCommand).resolves({ Role: roleInIam(before, { trust: trustPolicy(spec) }) });
    iam.on(ListAttachedRolePoliciesCommand).resolves({ AttachedPolicies: [{ PolicyArn: 'arn:aws:iam::aws:policy/AmazonEC2FullAccess' }] });
    iam.on(ListRolePoliciesCommand).resolves({ PolicyNames: [] });
    iam.on(GetRolePolicyCommand).rejects(noSuchEntity());

    await provisioner().provisioner.apply(spec, '01REQ');

    // The boundary goes only once the role is held at Deny-all; the hold ends with the new inline policy.
    expect(commandNames(iam)).toEqual([
      'GetRole',
      'ListRolePolicies',
      'GetRolePolicy',
      'ListAttachedRolePolicies',
      'UpdateRole',
      'PutRolePolicy',
      'DeleteRolePermissionsBoundary',
      'DetachRolePolicy',
      'PutRolePolicy',
      'AttachRolePolicy',
    ]);
    expect(iam.commandCalls(UpdateRoleCommand).map((c) => c.args[0].input)).toEqual([{ RoleName: spec.roleName, MaxSessionDuration: 3600, Description: desiredRole(spec).description }]);
    expect(iam.commandCalls(DeleteRolePermissionsBoundaryCommand).map((c) => c.args[0].input)).toEqual([{ RoleName: spec.roleName }]);
    const [hold, put] = iam.commandCalls(PutRolePolicyCommand).map((c) => c.args[0].input);
    expect({ ...hold, PolicyDocument: parsed(hold!.PolicyDocument) }).toEqual({
      RoleName: spec.roleName,
      PolicyName: 'rolegate-profile',
      PolicyDocument: { Version: '2012-10-17', Statement: [{ Sid: 'RolegateProfileChanging', Effect: 'Deny', Action: '*', Resource: '*' }] },
    });
    expect({ ...put, PolicyDocument: parsed(put!.PolicyDocument) }).toEqual(s3ReadOnlyInlinePolicy(spec.roleName));
    expect(iam.commandCalls(DetachRolePolicyCommand).map((c) => c.args[0].input)).toEqual([{ RoleName: spec.roleName, PolicyArn: 'arn:aws:iam::aws:policy/AmazonEC2FullAccess' }]);
    expect(iam.commandCalls(AttachRolePolicyCommand).map((c) => c.args[0].input)).toEqual([{ RoleName: spec.roleName, PolicyArn: S3_READ }]);
  });

  it('stays held at Deny-all, its trust not moved, when IAM refuses the new inline policy after a boundary was removed', async () => {
    // Before: AdministratorAccess under a ReadOnlyAccess boundary. After: no boundary, and an inline policy IAM refuses.
    const admin = { ...profile('EC2Admin'), managedPolicyArns: [ADMIN], permissionsBoundaryArn: 'arn:aws:iam::aws:policy/ReadOnlyAccess' };
    const before = grantSpec({ profile: admin, requestIds: ['01A'] });
    const edited = { ...profile('S3ReadOnly'), name: admin.name, managedPolicyArns: ['arn:aws:iam::aws:policy/ReadOnlyAccess'] };
    const spec = grantSpec({ profile: edited, requestIds: ['01A', '01B'], endsAt: '2026-03-02T12:00:00.000Z' });
    iam.on(GetRoleCommand).resolves({ Role: roleInIam(before) });
    iam.on(ListAttachedRolePoliciesCommand).resolves({ AttachedPolicies: [{ PolicyArn: ADMIN }] });
    iam.on(ListRolePoliciesCommand).resolves({ PolicyNames: ['rolegate-profile'] });
    iam.on(GetRolePolicyCommand).resolves({ PolicyDocument: encodeURIComponent(JSON.stringify(desiredRole(before).inlinePolicy)) });
    iam.on(PutRolePolicyCommand).callsFake((input: { PolicyDocument: string }) => {
      if (input.PolicyDocument.includes('RolegateProfileChanging')) return {};
      throw awsError('MalformedPolicyDocument', 'Resource must be in ARN format or "*".');
    });

    const error = await provisioner().provisioner.apply(spec, '01B').catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ProvisioningError);
    expect(error).toMatchObject({ retryable: false });
    // Held before the boundary went; AdministratorAccess detached before the refused write; the later end never written.
    expect(writesSent()).toEqual(['UpdateRole', 'PutRolePolicy', 'DeleteRolePermissionsBoundary', 'TagRole', 'DetachRolePolicy', 'PutRolePolicy']);
    expect(iam).not.toHaveReceivedCommand(UpdateAssumeRolePolicyCommand);
    expect(parsed(iam.commandCalls(PutRolePolicyCommand)[0]!.args[0].input.PolicyDocument)).toEqual({
      Version: '2012-10-17',
      Statement: [{ Sid: 'RolegateProfileChanging', Effect: 'Deny', Action: '*', Resource: '*' }],
    });
  });

  it('adds a new boundary before anything else changes, and narrows the trust first', async () => {
    const before = grantSpec({ profile: profile('S3ReadOnly'), endsAt: '2026-03-02T12:00:00.000Z' });
    const bounded = { ...profile('S3ReadOnly'), permissionsBoundaryArn: 'arn:aws:iam::aws:policy/ReadOnlyAccess' };
    const spec = grantSpec({ profile: bounded });
    iam.on(GetRoleCommand).resolves({ Role: roleInIam(before) });
    holdsS3ReadOnlyPolicies(desiredRole(before).inlinePolicy);

    // This IAM never shows the writes, so the read-back gives up: what matters here is what was sent, in order.
    const failed = await provisioner().provisioner.apply(spec, '01REQ').then(() => undefined, (e: unknown) => e);

    expect(failed).toMatchObject({ awsCode: 'NotYetConsistent', retryable: true });
    expect(writesSent().slice(0, 3)).toEqual(['UpdateAssumeRolePolicy', 'PutRolePermissionsBoundary', 'TagRole']);
    expect(iam).toHaveReceivedCommandWith(PutRolePermissionsBoundaryCommand, { RoleName: spec.roleName, PermissionsBoundary: 'arn:aws:iam::aws:policy/ReadOnlyAccess' });
    expect(parsed(iam.commandCalls(UpdateAssumeRolePolicyCommand)[0]!.args[0].input.PolicyDocument)).toEqual(trustPolicy(spec));
    expect(iam).not.toHaveReceivedCommandWith(PutRolePolicyCommand, { PolicyDocument: expect.stringContaining('RolegateProfileChanging') });
  });

  it('brings a trust written before rolegate allowed source identities up to date last, as the widening it is', async () => {
    const spec = grantSpec();
    const old = trustBeforeSourceIdentity(trustPolicy(spec));
    // A profile change at the same time: its permissions are in place before the trust admits more sessions.
    const before = desiredRole(spec).inlinePolicy;
    const changed = { ...before, Statement: [{ Effect: 'Deny', Action: 's3:DeleteObject', Resource: '*' }, ...before.Statement] };
    iam.on(GetRoleCommand).resolvesOnce({ Role: roleInIam(spec, { trust: old }) }).resolves({ Role: roleInIam(spec) });
    holdsS3ReadOnlyPolicies(changed);

    const outcome = await provisioner().provisioner.apply(spec, '01REQ');

    expect(outcome.calls.map((c) => c.command)).toEqual(['PutRolePolicy', 'UpdateAssumeRolePolicy']);
    const update = iam.commandCalls(UpdateAssumeRolePolicyCommand)[0]!.args[0].input;
    expect({ ...update, PolicyDocument: parsed(update.PolicyDocument) }).toEqual({ RoleName: spec.roleName, PolicyDocument: trustPolicy(spec) });
  });

  it('moves the end and records the new request when a second request extends the grant', async () => {
    const first = grantSpec({ requestIds: ['01A'] });
    const extended = grantSpec({ requestIds: ['01A', '01B'], endsAt: '2026-03-02T12:00:00.000Z' });
    iam.on(GetRoleCommand).resolvesOnce({ Role: roleInIam(first) }).resolves({ Role: roleInIam(extended) });
    holdsS3ReadOnlyPolicies();

    await provisioner().provisioner.apply(extended, '01B');

    // The trust's later end is written last, once the role's policies are as desired.
    expect(commandNames(iam)).toEqual(['GetRole', 'ListRolePolicies', 'GetRolePolicy', 'ListAttachedRolePolicies', 'TagRole', 'PutRolePolicy', 'UpdateAssumeRolePolicy', 'GetRole']);
    expect(parsed(iam.commandCalls(UpdateAssumeRolePolicyCommand)[0]!.args[0].input.PolicyDocument)).toEqual(trustPolicy(extended));
    // The end of access moves with the trust's end.
    expect((parsed(iam.commandCalls(PutRolePolicyCommand)[0]!.args[0].input.PolicyDocument) as { Statement: unknown[] }).Statement.at(-1)).toEqual({
      Sid: 'RolegateAccessEnds',
      Effect: 'Deny',
      Action: '*',
      Resource: '*',
      Condition: { DateGreaterThan: { 'aws:CurrentTime': '2026-03-02T12:00:00.000Z' } },
    });
    expect(iam).toHaveReceivedCommandWith(TagRoleCommand, {
      RoleName: extended.roleName,
      Tags: [
        { Key: 'rolegate:requests', Value: '01A 01B' },
        { Key: 'rolegate:ends-at', Value: '2026-03-02T12:00:00.000Z' },
      ],
    });
  });

  it('changes nothing and skips the read-back when the role is already as desired', async () => {
    const spec = grantSpec();
    iam.on(GetRoleCommand).resolves({ Role: roleInIam(spec) });
    holdsS3ReadOnlyPolicies();

    const outcome = await provisioner().provisioner.apply(spec, '01REQ');

    expect(commandNames(iam)).toEqual(['GetRole', 'ListRolePolicies', 'GetRolePolicy', 'ListAttachedRolePolicies']);
    expect(outcome.calls).toEqual([]);
  });

  it('never takes over a same-name role that rolegate does not manage, and sends no write', async () => {
    const spec = grantSpec();
    iam.on(GetRoleCommand).resolves({ Role: roleInIam(spec, { Tags: [{ Key: 'team', Value: 'payments' }] }) });

    const error = await provisioner().provisioner.apply(spec, '01REQ').catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ProvisioningError);
    expect(error).toMatchObject({
      awsCode: 'RoleNotManaged',
      retryable: false,
      message: `Role ${spec.roleName} exists in account 333333333333 and is not managed by rolegate; rolegate never takes over a role it did not create. Delete or rename that role, then retry.`,
    });
    expect(commandNames(iam)).toEqual(['GetRole']);
    expect(writesSent()).toEqual([]);
  });

  it('never takes over a role with the managed-by tag outside its path', async () => {
    const spec = grantSpec();
    iam.on(GetRoleCommand).resolves({ Role: roleInIam(spec, { Path: '/', Arn: `arn:aws:iam::333333333333:role/${spec.roleName}` }) });

    await expect(provisioner().provisioner.apply(spec, '01REQ')).rejects.toThrow(/\(at path \/, not \/rolegate\/\) and is not managed by rolegate/);
    expect(writesSent()).toEqual([]);
  });

  it('retries throttling with growing backoff and then succeeds', async () => {
    const spec = grantSpec();
    iam.on(GetRoleCommand).rejectsOnce(awsError('Throttling', 'Rate exceeded')).rejectsOnce(noSuchEntity()).resolves({ Role: roleInIam(spec) });
    iam.on(CreateRoleCommand).rejectsOnce(awsError('ThrottlingException', 'Rate exceeded')).rejectsOnce(awsError('ServiceFailure', 'oops', 500)).resolves({});
    // Jitter at its top, so the waits show their ceilings: each call's backoff doubles per attempt of that call.
    const retry = instantRetry();
    const p = new IamProvisioner(provisionerCredentials(), { ...retry.options, random: () => 0.999999 });

    await p.apply(spec, '01REQ');

    expect(commandNames(iam)).toEqual(['GetRole', 'GetRole', 'CreateRole', 'CreateRole', 'CreateRole', 'PutRolePolicy', 'AttachRolePolicy', 'GetRole']);
    expect(retry.waits).toEqual([199, 199, 399]);
  });

  it('fails retryably, with the AWS code, once throttling outlasts every attempt', async () => {
    iam.on(GetRoleCommand).rejects(awsError('Throttling', 'Rate exceeded'));

    const error = await provisioner().provisioner.apply(grantSpec(), '01REQ').catch((e: unknown) => e);

    expect(error).toMatchObject({ awsCode: 'Throttling', retryable: true });
    expect((error as Error).message).toMatch(/^GetRole in account 333333333333 failed after 5 attempts: /);
    expect(iam).toHaveReceivedCommandTimes(GetRoleCommand, 5);
  });

  it('turns AccessDenied into a permanent failure with the AWS code and a reason an administrator can act on', async () => {
    iam.on(GetRoleCommand).rejects(noSuchEntity());
    iam.on(CreateRoleCommand).rejects(awsError('AccessDenied', 'User is not authorized to perform: iam:CreateRole', 403));

    const error = await provisioner().provisioner.apply(grantSpec(), '01REQ').catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ProvisioningError);
    expect(error).toMatchObject({
      awsCode: 'AccessDenied',
      retryable: false,
      message:
        'CreateRole in account 333333333333 failed: rolegate is not allowed to do this in the target account: deploy or update the provisioner role from templates/provisioner-role.yaml (AccessDenied)',
      awsMessage: 'User is not authorized to perform: iam:CreateRole',
    });
    expect(iam).toHaveReceivedCommandTimes(CreateRoleCommand, 1);
    expect(iam).not.toHaveReceivedCommand(AttachRolePolicyCommand);
  });

  it('refuses an invalid document before assuming any role', async () => {
    // 11 managed policies: more than IAM's default quota of 10 per role, which the account keeps (managedPoliciesPerRoleMax).
    const spec = grantSpec({ profile: { ...profile('S3ReadOnly'), managedPolicyArns: Array.from({ length: 11 }, (_, i) => `arn:aws:iam::aws:policy/P${i}`) } });

    await expect(provisioner().provisioner.apply(spec, '01REQ')).rejects.toMatchObject({
      awsCode: undefined,
      retryable: false,
      message: "The profile attaches 11 managed policies; the account allows 10 per role (IAM's default quota: ask AWS to raise it (up to 20) and set the account's managedPoliciesPerRoleMax).",
    });
    expect(sts.calls()).toHaveLength(0);
    expect(iam.calls()).toHaveLength(0);
  });

  it('converges when re-run after a crash right after CreateRole, adding only what is missing', async () => {
    const spec = grantSpec();
    iam.on(GetRoleCommand).rejects(noSuchEntity());
    iam.on(AttachRolePolicyCommand).rejects(new Error('Runtime exited: the function timed out'));
    const { provisioner: p } = provisioner();
    const error = await p.apply(spec, '01REQ').catch((e: unknown) => e);
    // An error with no AWS answer says nothing permanent: retried within the step, then left retryable.
    expect(error).toMatchObject({ retryable: true });
    expect(commandNames(iam)).toEqual(['GetRole', 'CreateRole', 'PutRolePolicy', ...Array(5).fill('AttachRolePolicy')]);

    // IAM now holds the role as the crash left it; the re-run adds whatever is missing.
    iam.reset();
    iam.on(GetRoleCommand).resolves({ Role: roleInIam(spec) });
    iam.on(ListAttachedRolePoliciesCommand).resolves({ AttachedPolicies: [] });
    iam.on(ListRolePoliciesCommand).resolves({ PolicyNames: [] });
    iam.on(GetRolePolicyCommand).rejects(noSuchEntity());
    const outcome = await p.apply(spec, '01REQ');

    // The profile policy is asked for by name (IAM's lists lag): NoSuchEntity, so it is written.
    expect(commandNames(iam)).toEqual(['GetRole', 'ListRolePolicies', 'GetRolePolicy', 'ListAttachedRolePolicies', 'PutRolePolicy', 'AttachRolePolicy']);
    expect(outcome.calls.map((c) => c.command)).toEqual(['PutRolePolicy', 'AttachRolePolicy']);
  });

  it('converges onto a role another worker created between its read and its create', async () => {
    const spec = grantSpec();
    iam.on(GetRoleCommand).rejectsOnce(noSuchEntity()).resolves({ Role: roleInIam(spec) });
    iam.on(CreateRoleCommand).rejects(awsError('EntityAlreadyExistsException', 'Role with name x already exists.', 409));
    holdsS3ReadOnlyPolicies();

    const outcome = await provisioner().provisioner.apply(spec, '01REQ');

    expect(commandNames(iam)).toEqual(['GetRole', 'CreateRole', 'GetRole', 'ListRolePolicies', 'GetRolePolicy', 'ListAttachedRolePolicies']);
    expect(outcome.calls).toEqual([]);
  });

  it('fails retryably when IAM does not yet show the trust it was given', async () => {
    const spec = grantSpec();
    iam.on(GetRoleCommand).rejectsOnce(noSuchEntity()).rejectsOnce(noSuchEntity()).resolves({ Role: roleInIam(spec, { trust: { Version: '2012-10-17', Statement: [] } }) });
    const retry = instantRetry();

    const error = await new IamProvisioner(provisionerCredentials(), retry.options, 3).apply(spec, '01REQ').catch((e: unknown) => e);

    expect(error).toMatchObject({ awsCode: 'NotYetConsistent', retryable: true });
    expect(iam).toHaveReceivedCommandTimes(GetRoleCommand, 4);
    expect(retry.waits).toEqual([250, 500]);
  });

  it('assumes the role afresh after IAM rejects the cached credentials as expired', async () => {
    const spec = grantSpec();
    iam.on(GetRoleCommand).rejectsOnce(awsError('ExpiredToken', 'The security token included in the request is expired', 403)).resolves({ Role: roleInIam(spec) });
    holdsS3ReadOnlyPolicies();
    const { provisioner: p } = provisioner();

    await expect(p.apply(spec, '01A')).rejects.toMatchObject({ awsCode: 'ExpiredToken', retryable: true });
    await p.apply(spec, '01A');

    expect(sts).toHaveReceivedCommandTimes(AssumeRoleCommand, 2);
  });
});

describe('IamProvisioner credentials', () => {
  it('assumes the provisioner role once for three grants in one account, and again only near expiry', async () => {
    const clock = new ManualClock(new Date('2026-03-02T09:00:00.000Z'));
    const { provisioner: p } = provisioner(clock);
    const grants = ['alice', 'bob', 'carol'].map((name) => grantSpec({ principal: parsePrincipalArn(`arn:aws:iam::111111111111:user/${name}`) }));
    for (const g of grants) iam.on(GetRoleCommand, { RoleName: g.roleName }).rejectsOnce(noSuchEntity()).resolves({ Role: roleInIam(g) });
    iam.on(ListAttachedRolePoliciesCommand).resolves({ AttachedPolicies: [] });
    iam.on(ListRolePoliciesCommand).resolves({ PolicyNames: [] });

    await p.apply(grants[0]!, '01A');
    await p.apply(grants[1]!, '01B');
    await p.apply(grants[2]!, '01C');
    expect(sts).toHaveReceivedCommandTimes(AssumeRoleCommand, 1);
    expect(sts).toHaveReceivedCommandWith(AssumeRoleCommand, { RoleSessionName: 'rolegate-01A' });

    // Credentials expire at 10:00; they are renewed from 09:55 on.
    clock.set('2026-03-02T09:54:59.000Z');
    await p.remove(account('production'), grants[0]!.roleName, '01D');
    expect(sts).toHaveReceivedCommandTimes(AssumeRoleCommand, 1);
    sts.on(AssumeRoleCommand).resolves(stsCredentials('2026-03-02T11:00:00.000Z'));
    clock.set('2026-03-02T09:55:00.000Z');
    await p.remove(account('production'), grants[0]!.roleName, '01E');
    expect(sts).toHaveReceivedCommandTimes(AssumeRoleCommand, 2);
    expect(sts).toHaveReceivedNthCommandWith(2, AssumeRoleCommand, { RoleSessionName: 'rolegate-01E' });
  });
});

describe('IamProvisioner.remove', () => {
  it('detaches and deletes the policies, then the role', async () => {
    const spec = grantSpec();
    iam.on(GetRoleCommand).resolves({ Role: roleInIam(spec) });
    iam.on(ListAttachedRolePoliciesCommand).resolves({ AttachedPolicies: [{ PolicyArn: S3_READ }] });
    iam.on(ListRolePoliciesCommand).resolves({ PolicyNames: ['rolegate-profile'] });

    const calls = await provisioner().provisioner.remove(spec.account, spec.roleName, '01REQ');

    expect(commandNames(iam)).toEqual(['GetRole', 'ListAttachedRolePolicies', 'DetachRolePolicy', 'ListRolePolicies', 'DeleteRolePolicy', 'DeleteRole']);
    expect(calls).toEqual([
      { service: 'iam', command: 'DetachRolePolicy', input: { RoleName: spec.roleName, PolicyArn: S3_READ } },
      { service: 'iam', command: 'DeleteRolePolicy', input: { RoleName: spec.roleName, PolicyName: 'rolegate-profile' } },
      { service: 'iam', command: 'DeleteRole', input: { RoleName: spec.roleName } },
    ]);
  });

  it('is done when the role is already gone', async () => {
    const spec = grantSpec();
    iam.on(GetRoleCommand).rejects(noSuchEntity());

    await expect(provisioner().provisioner.remove(spec.account, spec.roleName, '01REQ')).resolves.toEqual([]);
    expect(commandNames(iam)).toEqual(['GetRole']);
  });

  it('reads a role it was told it just created again before it believes it gone, and gives up on it after four reads', async () => {
    const spec = grantSpec();
    iam.on(GetRoleCommand).rejectsOnce(noSuchEntity()).resolves({ Role: roleInIam(spec) });
    iam.on(ListAttachedRolePoliciesCommand).resolves({ AttachedPolicies: [] });
    iam.on(ListRolePoliciesCommand).resolves({ PolicyNames: [] });

    await provisioner().provisioner.remove(spec.account, spec.roleName, '01REQ', { unrecorded: true, justCreated: true });
    expect(commandNames(iam)).toEqual(['GetRole', 'GetRole', 'ListAttachedRolePolicies', 'ListRolePolicies', 'DeleteRole']);

    iam.reset();
    iam.on(GetRoleCommand).rejects(noSuchEntity());
    await expect(provisioner().provisioner.remove(spec.account, spec.roleName, '01REQ', { justCreated: true })).resolves.toEqual([]);
    expect(commandNames(iam)).toEqual(['GetRole', 'GetRole', 'GetRole', 'GetRole']);
  });

  it('is done when the role disappears while it is being removed', async () => {
    const spec = grantSpec();
    iam.on(GetRoleCommand).resolves({ Role: roleInIam(spec) });
    iam.on(ListAttachedRolePoliciesCommand).resolves({ AttachedPolicies: [{ PolicyArn: S3_READ }] });
    iam.on(DetachRolePolicyCommand).rejects(noSuchEntity());
    iam.on(ListRolePoliciesCommand).rejects(noSuchEntity());

    await expect(provisioner().provisioner.remove(spec.account, spec.roleName, '01REQ')).resolves.toEqual([]);
    expect(iam).not.toHaveReceivedCommand(DeleteRoleCommand);
  });

  it('is done when the role is deleted meanwhile and IAM refuses the write to it as AccessDenied (a role it no longer shows)', async () => {
    const spec = grantSpec();
    iam.on(GetRoleCommand).resolvesOnce({ Role: roleInIam(spec) }).rejects(noSuchEntity());
    iam.on(ListAttachedRolePoliciesCommand).resolves({ AttachedPolicies: [] });
    iam.on(ListRolePoliciesCommand).resolves({ PolicyNames: [] });
    iam.on(DeleteRoleCommand).rejects(awsError('AccessDenied', 'User is not authorized to perform: iam:DeleteRole on resource: role rg-x', 403));

    await expect(provisioner().provisioner.remove(spec.account, spec.roleName, '01REQ')).resolves.toEqual([]);
    expect(commandNames(iam)).toEqual(['GetRole', 'ListAttachedRolePolicies', 'ListRolePolicies', 'DeleteRole', 'GetRole']);

    // Still there: the refusal is its own.
    iam.reset();
    iam.on(GetRoleCommand).resolves({ Role: roleInIam(spec) });
    iam.on(ListAttachedRolePoliciesCommand).resolves({ AttachedPolicies: [] });
    iam.on(ListRolePoliciesCommand).resolves({ PolicyNames: [] });
    iam.on(DeleteRoleCommand).rejects(awsError('AccessDenied', 'User is not authorized to perform: iam:DeleteRole', 403));
    await expect(provisioner().provisioner.remove(spec.account, spec.roleName, '01REQ')).rejects.toMatchObject({ awsCode: 'AccessDenied' });
  });

  it('refuses to delete a role rolegate does not manage', async () => {
    const spec = grantSpec();
    iam.on(GetRoleCommand).resolves({ Role: roleInIam(spec, { Tags: [] }) });

    await expect(provisioner().provisioner.remove(spec.account, spec.roleName, '01REQ')).rejects.toMatchObject({
      awsCode: 'RoleNotManaged',
      retryable: false,
      message: `Role ${spec.roleName} in account 333333333333 is not managed by rolegate; rolegate never deletes a role it did not create.`,
    });
    expect(writesSent()).toEqual([]);
  });

  it('leaves an unrecorded role it does not manage alone, sending nothing but the read', async () => {
    const spec = grantSpec();
    iam.on(GetRoleCommand).resolves({ Role: roleInIam(spec, { Tags: [] }) });

    await expect(provisioner().provisioner.remove(spec.account, spec.roleName, '01REQ', { unrecorded: true })).resolves.toEqual([]);
    expect(commandNames(iam)).toEqual(['GetRole']);
  });

  it('still deletes an unrecorded role it does manage (made before a crash)', async () => {
    const spec = grantSpec();
    iam.on(GetRoleCommand).resolves({ Role: roleInIam(spec) });
    iam.on(ListAttachedRolePoliciesCommand).resolves({ AttachedPolicies: [] });
    iam.on(ListRolePoliciesCommand).resolves({ PolicyNames: ['rolegate-profile'] });

    await provisioner().provisioner.remove(spec.account, spec.roleName, '01REQ', { unrecorded: true });

    expect(commandNames(iam)).toEqual(['GetRole', 'ListAttachedRolePolicies', 'ListRolePolicies', 'DeleteRolePolicy', 'DeleteRole']);
  });
});

describe('IamProvisioner.listManagedRoleNames', () => {
  it('pages through the roles under /rolegate/ and names them, reading none of them (reconciliation reads each in its turn)', async () => {
    const mine = grantSpec();
    const other = grantSpec({ profile: profile('EC2Admin') });
    iam.on(ListRolesCommand, { PathPrefix: '/rolegate/' }).resolves({ Roles: [roleInIam(mine)], IsTruncated: true, Marker: 'm1' });
    iam.on(ListRolesCommand, { PathPrefix: '/rolegate/', Marker: 'm1' }).resolves({ Roles: [roleInIam(other)], IsTruncated: false });

    const names = await provisioner().provisioner.listManagedRoleNames(account('production'));

    expect(names).toEqual([mine.roleName, other.roleName]);
    expect(iam).toHaveReceivedCommandTimes(ListRolesCommand, 2);
    expect(iam.calls().map((c) => c.args[0].constructor.name)).toEqual(['ListRolesCommand', 'ListRolesCommand']);
    expect(sts).toHaveReceivedCommandWith(AssumeRoleCommand, { RoleSessionName: 'rolegate-reconcile' });
  });
});

describe('IamProvisioner.describeManagedRole', () => {
  it('reads one role afresh with exactly the reads reconciliation compares, and writes nothing', async () => {
    const mine = grantSpec();
    const d = desiredRole(mine);
    iam.on(GetRoleCommand, { RoleName: mine.roleName }).resolves({ Role: roleInIam(mine) });
    iam.on(ListAttachedRolePoliciesCommand, { RoleName: mine.roleName }).resolves({ AttachedPolicies: [{ PolicyArn: S3_READ }] });
    iam.on(ListRolePoliciesCommand, { RoleName: mine.roleName }).resolves({ PolicyNames: [d.inlinePolicyName] });
    iam.on(GetRolePolicyCommand, { RoleName: mine.roleName, PolicyName: d.inlinePolicyName }).resolves({ PolicyDocument: encodeURIComponent(JSON.stringify(d.inlinePolicy)) });

    const state = await provisioner().provisioner.describeManagedRole(account('production'), mine.roleName);

    expect(state).toEqual(managedState(mine));
    expect(iam).toHaveReceivedCommandTimes(ListRolesCommand, 0);
    expect(iam).toHaveReceivedCommandTimes(GetRoleCommand, 1);
    expect(writesSent()).toEqual([]);
    expect(sts).toHaveReceivedCommandWith(AssumeRoleCommand, { RoleSessionName: 'rolegate-reconcile' });
  });

  it('reads a role without the managed-by tag as not managed, with its boundary and maximum session', async () => {
    const other = grantSpec({ profile: profile('EC2Admin') });
    iam.on(GetRoleCommand, { RoleName: other.roleName }).resolves({ Role: roleInIam(other, { Tags: [], MaxSessionDuration: 43200 }) });
    iam.on(ListAttachedRolePoliciesCommand).resolves({ AttachedPolicies: [{ PolicyArn: S3_READ }] });
    iam.on(ListRolePoliciesCommand, { RoleName: other.roleName }).resolves({ PolicyNames: [] });

    const state = await provisioner().provisioner.describeManagedRole(account('production'), other.roleName);

    expect(desiredRole(other).permissionsBoundaryArn).toBeDefined();
    expect(state).toEqual({
      roleName: other.roleName,
      roleArn: desiredRole(other).roleArn,
      managedByRolegate: false,
      trustPolicy: trustPolicy(other),
      attachedPolicyArns: [S3_READ],
      inlinePolicies: {},
      permissionsBoundaryArn: desiredRole(other).permissionsBoundaryArn,
      maxSessionDuration: 43200,
    });
    expect(writesSent()).toEqual([]);
  });

  it("reports a role of the grant's name outside /rolegate/ as not managed, without reading the policies the provisioner may not read", async () => {
    const mine = grantSpec();
    const elsewhere = roleInIam(mine, { Path: '/', Arn: `arn:aws:iam::333333333333:role/${mine.roleName}`, Tags: [{ Key: 'managed-by', Value: 'rolegate' }] });
    iam.on(GetRoleCommand, { RoleName: mine.roleName }).resolves({ Role: elsewhere });
    // As IAM would: the provisioner role's list and read actions cover role/rolegate/* only.
    iam.on(ListRolePoliciesCommand).rejects(Object.assign(new Error('not authorized'), { name: 'AccessDenied' }));
    iam.on(ListAttachedRolePoliciesCommand).rejects(Object.assign(new Error('not authorized'), { name: 'AccessDenied' }));

    const state = await provisioner().provisioner.describeManagedRole(account('production'), mine.roleName);

    expect(state).toEqual({
      roleName: mine.roleName,
      roleArn: `arn:aws:iam::333333333333:role/${mine.roleName}`,
      managedByRolegate: false,
      outsidePath: '/',
      trustPolicy: trustPolicy(mine),
      attachedPolicyArns: [],
      inlinePolicies: {},
      maxSessionDuration: elsewhere.MaxSessionDuration ?? 3600,
    });
    expect(iam).toHaveReceivedCommandTimes(ListRolePoliciesCommand, 0);
    expect(iam).toHaveReceivedCommandTimes(ListAttachedRolePoliciesCommand, 0);
  });

  it('names the keys of the tags rolegate did not write, and none when it carries only its own', async () => {
    const mine = grantSpec();
    const tags = [...desiredRole(mine).tags, { Key: 'project', Value: 'x' }, { Key: 'access-team', Value: 'payments' }, { Key: 'rolegate:team', Value: 'by hand' }];
    iam.on(GetRoleCommand, { RoleName: mine.roleName }).resolves({ Role: roleInIam(mine, { Tags: tags }) });
    holdsS3ReadOnlyPolicies(desiredRole(mine).inlinePolicy);

    expect((await provisioner().provisioner.describeManagedRole(account('production'), mine.roleName))!.otherTagKeys).toEqual(['access-team', 'project', 'rolegate:team']);
    iam.on(GetRoleCommand, { RoleName: mine.roleName }).resolves({ Role: roleInIam(mine) });
    expect((await provisioner().provisioner.describeManagedRole(account('production'), mine.roleName))!.otherTagKeys).toBeUndefined();
  });

  it('names the requests its rolegate:requests tag holds, past the count of those left out, so reconciliation can tell whose role it is', async () => {
    const mine = grantSpec();
    const ids = ['01JABCDEFGHJKMNPQRSTVWXY07', '01JABCDEFGHJKMNPQRSTVWXY09'];
    const tags = desiredRole(mine).tags.map((t) => (t.Key === 'rolegate:requests' ? { ...t, Value: `+7 ${ids.join(' ')}` } : t));
    iam.on(GetRoleCommand, { RoleName: mine.roleName }).resolves({ Role: roleInIam(mine, { Tags: tags }) });
    holdsS3ReadOnlyPolicies(desiredRole(mine).inlinePolicy);

    expect((await provisioner().provisioner.describeManagedRole(account('production'), mine.roleName))!.requestIds).toEqual(ids);
  });

  it('is undefined for a role that does not exist', async () => {
    iam.on(GetRoleCommand).rejects(noSuchEntity());
    expect(await provisioner().provisioner.describeManagedRole(account('production'), 'rg-ReadOnly-gone-00000000')).toBeUndefined();
    expect(iam).toHaveReceivedCommandTimes(ListRolePoliciesCommand, 0);
  });
});
