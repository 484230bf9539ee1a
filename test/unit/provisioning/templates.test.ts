import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CreateRoleCommand, GetRoleCommand, IAMClient, TagRoleCommand } from '@aws-sdk/client-iam';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { load as parse } from 'js-yaml';
import { IamProvisioner } from '../../../src/adapters/aws/iam-provisioner';
import { ROLE_NAME_PREFIX, ROLE_PATH } from '../../../src/domain/provisioning/role-name';
import { desiredRole, MANAGED_TAG } from '../../../src/domain/provisioning/documents';
import { parsePrincipalArn } from '../../../src/domain/principal';
import { grantSpec, instantRetry, noSuchEntity, profile, provisionerCredentials, roleInIam, stsCredentials } from './fixtures';

const ROOT = join(__dirname, '..', '..', '..');
type Statement = { Sid: string; Effect: 'Allow' | 'Deny'; Action: string | string[]; Resource?: unknown; NotResource?: unknown; Condition?: unknown };
type Template = { Parameters: Record<string, { NoEcho?: boolean }>; Resources: Record<string, { Properties: { AssumeRolePolicyDocument: { Statement: unknown[] }; Policies: { PolicyDocument: { Statement: unknown[] } }[] } }> };

const template = (file: string) => parse(readFileSync(join(ROOT, 'templates', file), 'utf8')) as Template;
const roleArn = (path: string) => ({ 'Fn::Sub': `arn:\${AWS::Partition}:iam::\${AWS::AccountId}:role/${path}` });
const actions = (s: Statement) => (Array.isArray(s.Action) ? s.Action : [s.Action]);
/** Every role under rolegate's path, and those of them it names (rg-…), as the template writes them. */
const UNDER_PATH = roleArn(`${ROLE_PATH.slice(1)}*`);
const GRANT_ROLES = roleArn(`${ROLE_PATH.slice(1)}${ROLE_NAME_PREFIX}*`);
/** A template ARN with its partition and account filled in, as IAM matches it. */
const inAccount = (arn: { 'Fn::Sub': string }, accountId: string) => arn['Fn::Sub'].replace('${AWS::Partition}', 'aws').replace('${AWS::AccountId}', accountId);

/** Whether IAM's StringLike would match `value` against `pattern` (`*` any run of characters, `?` one). */
const like = (value: string, pattern: string) =>
  new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`).test(value);

/**
 * Every tag key the provisioner sends IAM, read from the calls it makes: CreateRole for a new role, and
 * TagRole for a managed role that carries none of its tags but managed-by (the widest rewrite).
 */
async function tagKeysSent(): Promise<string[]> {
  const iam = mockClient(IAMClient);
  const sts = mockClient(STSClient);
  try {
    sts.on(AssumeRoleCommand).resolves(stsCredentials('2026-03-02T10:00:00.000Z'));
    const spec = grantSpec();
    const keys = new Set<string>();
    const sent = () => {
      for (const call of [...iam.commandCalls(CreateRoleCommand), ...iam.commandCalls(TagRoleCommand)]) for (const tag of call.args[0].input.Tags ?? []) keys.add(tag.Key!);
    };
    const provisioner = new IamProvisioner(provisionerCredentials(), instantRetry().options);
    iam.onAnyCommand().resolves({});
    iam.on(GetRoleCommand).rejectsOnce(noSuchEntity()).resolves({ Role: roleInIam(spec) });
    await provisioner.apply(spec, '01REQ');
    expect(iam).toHaveReceivedCommandTimes(CreateRoleCommand, 1);
    sent();
    iam.reset();
    iam.onAnyCommand().resolves({});
    iam.on(GetRoleCommand).resolves({ Role: roleInIam(spec, { Tags: [{ ...MANAGED_TAG }] }) });
    await provisioner.apply(spec, '01REQ');
    expect(iam).toHaveReceivedCommandTimes(TagRoleCommand, 1);
    sent();
    return [...keys].sort();
  } finally {
    iam.restore();
    sts.restore();
  }
}

/** Plain statements; conditional ones (Fn::If) separately. */
function statements(file: string, resource: string): { plain: Statement[]; conditional: Statement[] } {
  const all = template(file).Resources[resource]!.Properties.Policies[0]!.PolicyDocument.Statement as Record<string, unknown>[];
  return {
    plain: all.filter((s) => !('Fn::If' in s)) as Statement[],
    // The branch that is a statement (the other is AWS::NoValue).
    conditional: all
      .filter((s) => 'Fn::If' in s)
      .map((s) => (s['Fn::If'] as unknown[]).slice(1).find((branch) => JSON.stringify(branch) !== JSON.stringify({ Ref: 'AWS::NoValue' })) as Statement),
  };
}

/** IAM commands an adapter sends, read from its imports so a template cannot fall behind the code. */
function commandsUsed(file: string): string[] {
  const source = readFileSync(join(ROOT, 'src', 'adapters', 'aws', file), 'utf8');
  const imports = /import \{([^}]+)\} from '@aws-sdk\/client-iam'/.exec(source)![1]!;
  return [...new Set([...imports.matchAll(/\b(\w+)Command\b/g)].map((m) => `iam:${m[1]}`))].sort();
}

describe('provisioner role template (target accounts)', () => {
  const { plain, conditional } = statements('provisioner-role.yaml', 'ProvisionerRole');
  // Setting a boundary is allowed only where one may be set (required or listed): a conditional Allow.
  const allows = [...plain, ...conditional].filter((s) => s.Effect === 'Allow');
  const allowed = new Set(allows.flatMap(actions));

  it('parses as plain YAML, with the ExternalId parameter hidden', () => {
    expect(template('provisioner-role.yaml').Parameters.ExternalId).toMatchObject({ NoEcho: true });
  });

  it('allows every IAM action the provisioner sends and nothing more', () => {
    expect([...allowed].sort()).toEqual(commandsUsed('iam-provisioner.ts'));
  });

  it('scopes every change to the roles rolegate names (/rolegate/rg-*), reads to /rolegate/ (GetRole also rg-*) and ListRoles to *', () => {
    for (const s of allows) {
      if (actions(s).includes('iam:ListRoles')) {
        expect(s).toMatchObject({ Action: 'iam:ListRoles', Resource: '*' });
      } else if (actions(s).includes('iam:GetRole')) {
        expect(s).toMatchObject({ Action: 'iam:GetRole', Resource: [UNDER_PATH, roleArn(`${ROLE_NAME_PREFIX}*`)] });
      } else if (actions(s).every((a) => /^iam:(Get|List)/.test(a))) {
        // Reconciliation reads every role it lists under the path, to report one rolegate did not make.
        expect({ Action: s.Action, Resource: s.Resource }).toEqual({ Action: s.Action, Resource: UNDER_PATH });
      } else {
        expect({ Action: s.Action, Resource: s.Resource }).toEqual({ Action: s.Action, Resource: GRANT_ROLES });
      }
    }
  });

  it('matches every role the code names with the grant-role ARN, and none of them with a deeper path', () => {
    const named = [
      grantSpec(),
      grantSpec({ profile: profile('EC2Admin'), principal: parsePrincipalArn('arn:aws:iam::111111111111:role/teams/platform/a-very-long-workload-role-name-for-billing-reports') }),
      grantSpec({ profile: profile('ReadOnly'), principal: parsePrincipalArn('arn:aws:iam::111111111111:user/Bob.Smith+ops@corp'), externalId: 'ext-1' }),
    ].map((spec) => desiredRole(spec).roleArn);
    expect(named.filter((arn) => !like(arn, inAccount(GRANT_ROLES, '333333333333')))).toEqual([]);
    expect(named.filter((arn) => like(arn, inAccount(roleArn(`${ROLE_PATH.slice(1)}*/*`), '333333333333')))).toEqual([]);
  });

  it('conditions attaching a policy on the allowed policy ARNs, and setting a boundary on the allowed boundary ARNs, two lists', () => {
    expect(allows.find((s) => s.Action === 'iam:AttachRolePolicy')!.Condition).toEqual({ ArnLike: { 'iam:PolicyARN': { Ref: 'AllowedPolicyArns' } } });
    // With a required boundary, that one alone (NeverWithoutTheRequiredBoundary refuses any other): never refused for not being listed.
    expect(allows.find((s) => s.Action === 'iam:PutRolePermissionsBoundary')!.Condition).toEqual({
      ArnLike: { 'iam:PermissionsBoundary': { 'Fn::If': ['BoundaryRequired', [{ Ref: 'RequiredPermissionsBoundaryArn' }], { Ref: 'AllowedBoundaryArns' }] } },
    });
    // A boundary (PowerUserAccess, say) is never attachable as permissions for being allowed as a boundary: no statement lets one list stand for the other.
    const text = JSON.stringify(template('provisioner-role.yaml').Resources.ProvisionerRole!.Properties.Policies);
    expect(text.match(/"Ref":"AllowedPolicyArns"/g)).toHaveLength(1);
    // Allowing no boundary unless the deployer lists some or requires one; 'none' is no ARN and never reaches an ARN condition.
    const parameters = template('provisioner-role.yaml').Parameters as Record<string, { Default?: string; Type: string }>;
    expect(parameters.AllowedBoundaryArns).toMatchObject({ Type: 'CommaDelimitedList', Default: 'none' });
    const all = template('provisioner-role.yaml').Resources.ProvisionerRole!.Properties.Policies[0]!.PolicyDocument.Statement as Record<string, unknown>[];
    expect(all.find((st) => JSON.stringify(st).includes('BoundaryOnlyFromAllowedPolicies'))!['Fn::If']).toEqual(['BoundariesSettable', expect.objectContaining({ Action: 'iam:PutRolePermissionsBoundary' }), { Ref: 'AWS::NoValue' }]);
    expect((template('provisioner-role.yaml') as unknown as { Conditions: unknown }).Conditions).toMatchObject({
      BoundariesListed: { 'Fn::Not': [{ 'Fn::Equals': [{ 'Fn::Join': [',', { Ref: 'AllowedBoundaryArns' }] }, 'none'] }] },
      BoundariesSettable: { 'Fn::Or': [{ Condition: 'BoundaryRequired' }, { Condition: 'BoundariesListed' }] },
    });
  });

  it('takes a boundary at creation only from the allowed boundaries, as when setting one later (the required one, when set)', () => {
    const all = template('provisioner-role.yaml').Resources.ProvisionerRole!.Properties.Policies[0]!.PolicyDocument.Statement as Record<string, unknown>[];
    // Only without a required boundary: with one, CreateRole must carry exactly it, listed or not.
    expect(all.find((s) => JSON.stringify(s).includes('NeverCreateWithABoundaryNotAllowed'))!['Fn::If']).toEqual(['BoundaryRequired', { Ref: 'AWS::NoValue' }, expect.any(Object)]);
    expect(conditional.find((s) => s.Sid === 'NeverCreateWithABoundaryNotAllowed')).toEqual({
      Sid: 'NeverCreateWithABoundaryNotAllowed',
      Effect: 'Deny',
      Action: 'iam:CreateRole',
      Resource: '*',
      // Boundaries listed: both must hold, a boundary is given and it is not one of them. None listed: any boundary given.
      Condition: {
        'Fn::If': [
          'BoundariesListed',
          { Null: { 'iam:PermissionsBoundary': 'false' }, ArnNotLike: { 'iam:PermissionsBoundary': { Ref: 'AllowedBoundaryArns' } } },
          { Null: { 'iam:PermissionsBoundary': 'false' } },
        ],
      },
    });
  });

  // Whole statements: an extra key (a Condition, a narrower Resource) would make a deny apply almost nowhere.
  const bySid = (sid: string) => [...plain, ...conditional].find((s) => s.Sid === sid);

  it('denies every change to any role but /rolegate/rg-* (so everything outside /rolegate/), unconditionally', () => {
    const writes = commandsUsed('iam-provisioner.ts').filter((a) => !/^iam:(Get|List)/.test(a));
    const deny = bySid('NeverChangeAnythingButGrantRoles')!;
    expect([...actions(deny)].sort()).toEqual(writes);
    expect(deny).toEqual({ Sid: 'NeverChangeAnythingButGrantRoles', Effect: 'Deny', Action: deny.Action, NotResource: GRANT_ROLES });
    // IAM's * spans slashes, so rg-* alone would admit /rolegate/rg-x/<anything>: a deeper path is denied as well.
    const below = bySid('NeverChangeARoleBelowTheRolegatePath')!;
    expect([...actions(below)].sort()).toEqual(writes);
    expect(below).toEqual({ Sid: 'NeverChangeARoleBelowTheRolegatePath', Effect: 'Deny', Action: below.Action, Resource: roleArn(`${ROLE_PATH.slice(1)}*/*`) });
    for (const [arn, denied] of [
      ['arn:aws:iam::333333333333:role/admin', true],
      ['arn:aws:iam::333333333333:role/rolegate-provisioner', true],
      ['arn:aws:iam::333333333333:role/rolegate/hand-made', true],
      ['arn:aws:iam::333333333333:role/rolegate/rg-x/admin', true],
      ['arn:aws:iam::333333333333:role/rolegate/rg-s3readonly-alice-1a2b3c4d', false],
    ] as const) {
      const refused = !like(arn, inAccount(GRANT_ROLES, '333333333333')) || like(arn, inAccount(below.Resource as { 'Fn::Sub': string }, '333333333333'));
      expect({ arn, refused }).toEqual({ arn, refused: denied });
    }
  });

  it('denies every change but creation and tagging to a role under /rolegate/ without the managed-by tag', () => {
    const deny = plain.find((s) => s.Sid === 'NeverChangeARoleRolegateDidNotCreate')!;
    const writes = commandsUsed('iam-provisioner.ts').filter((a) => !/^iam:(Get|List)/.test(a) && a !== 'iam:CreateRole' && a !== 'iam:TagRole');
    expect(deny).toEqual({
      Sid: 'NeverChangeARoleRolegateDidNotCreate',
      Effect: 'Deny',
      Action: deny.Action,
      // The whole path, wider than the Allows: a Deny narrowed with them would cover less.
      Resource: UNDER_PATH,
      Condition: { StringNotEquals: { 'iam:ResourceTag/managed-by': 'rolegate' } },
    });
    expect([...actions(deny)].sort()).toEqual(writes);
    expect(MANAGED_TAG).toEqual({ Key: 'managed-by', Value: 'rolegate' });
  });

  it('refuses creating or tagging a role with any tag key but those the provisioner writes', async () => {
    const deny = bySid('OnlyRolegatesTagKeys')!;
    const patterns = (deny.Condition as { 'ForAnyValue:StringNotLike': { 'aws:TagKeys': string[] } })['ForAnyValue:StringNotLike']['aws:TagKeys'];
    // Whole statement: an unknown key in any position is enough (ForAnyValue), wherever the role is.
    expect(deny).toEqual({ Sid: 'OnlyRolegatesTagKeys', Effect: 'Deny', Action: ['iam:CreateRole', 'iam:TagRole'], Resource: '*', Condition: { 'ForAnyValue:StringNotLike': { 'aws:TagKeys': patterns } } });
    const sent = await tagKeysSent();
    expect(sent).toContain(MANAGED_TAG.Key);
    // A key the code writes that the template refuses would fail every grant in a deployed account...
    expect(sent.filter((key) => !patterns.some((p) => like(key, p)))).toEqual([]);
    // ...and a pattern no key the code writes needs would let leaked credentials write keys for nothing.
    expect(patterns.filter((p) => !sent.some((key) => like(key, p)))).toEqual([]);
    expect(['team', 'Managed-By', 'env', 'aws-rolegate:x'].filter((key) => patterns.some((p) => like(key, p)))).toEqual([]);
  });

  it('never allows iam:PassRole or sts:AssumeRole and denies both outright', () => {
    expect(allowed.has('iam:PassRole')).toBe(false);
    expect(bySid('NeverPassRoles')).toEqual({ Sid: 'NeverPassRoles', Effect: 'Deny', Action: 'iam:PassRole', Resource: '*' });
    // Nor could it create a role trusting itself, attach an allowed policy and use it.
    expect(bySid('NeverAssumeARole')).toEqual({ Sid: 'NeverAssumeARole', Effect: 'Deny', Action: 'sts:AssumeRole', Resource: '*' });
  });

  it('can require a permissions boundary on every role it creates', () => {
    expect(conditional.filter((s) => s.Effect === 'Deny' && s.Sid !== 'NeverCreateWithABoundaryNotAllowed')).toEqual([
      {
        Sid: 'NeverWithoutTheRequiredBoundary',
        Effect: 'Deny',
        Action: ['iam:CreateRole', 'iam:PutRolePermissionsBoundary'],
        Resource: '*',
        Condition: { StringNotEquals: { 'iam:PermissionsBoundary': { Ref: 'RequiredPermissionsBoundaryArn' } } },
      },
      { Sid: 'NeverRemoveTheRequiredBoundary', Effect: 'Deny', Action: 'iam:DeleteRolePermissionsBoundary', Resource: '*' },
    ]);
  });

  it('makes the deployer choose a required boundary or opt out by name (no default, never empty)', () => {
    const parameter = template('provisioner-role.yaml').Parameters.RequiredPermissionsBoundaryArn as { Default?: string; AllowedPattern: string };
    expect(parameter.Default).toBeUndefined();
    // CloudFormation matches AllowedPattern against the whole value.
    const accepts = (value: string) => new RegExp(`^(?:${parameter.AllowedPattern})$`).test(value);
    expect(['none', 'arn:aws:iam::333333333333:policy/rolegate-boundary', 'arn:aws-us-gov:iam::333333333333:policy/org/boundary', 'arn:aws:iam::aws:policy/PowerUserAccess'].filter((v) => !accepts(v))).toEqual([]);
    // Empty was the old default (no boundary): an update that keeps it is refused and must choose.
    expect(['', 'None', ' none', 'arn:aws:iam::333333333333:role/x', '*'].filter(accepts)).toEqual([]);
    // The opt-out is the one value that drops the boundary statements.
    expect(template('provisioner-role.yaml') as unknown as { Conditions: unknown }).toMatchObject({
      Conditions: { BoundaryRequired: { 'Fn::Not': [{ 'Fn::Equals': [{ Ref: 'RequiredPermissionsBoundaryArn' }, 'none'] }] } },
    });
  });

  it('trusts only rolegate, and only with the ExternalId', () => {
    expect(template('provisioner-role.yaml').Resources.ProvisionerRole!.Properties.AssumeRolePolicyDocument.Statement).toEqual([
      { Effect: 'Allow', Principal: { AWS: { Ref: 'RolegateExecutionRoleArns' } }, Action: 'sts:AssumeRole', Condition: { StringEquals: { 'sts:ExternalId': { Ref: 'ExternalId' } } } },
    ]);
  });
});

describe('identity-granter role template', () => {
  const { plain } = statements('identity-granter-role.yaml', 'IdentityGranterRole');

  it('allows exactly the calls the identity granter makes, on users and roles under the configured paths', () => {
    const allows = plain.filter((s) => s.Effect === 'Allow');
    expect(allows.flatMap(actions).sort()).toEqual(commandsUsed('identity-granter.ts'));
    expect(allows.map((s) => s.Resource)).toEqual([
      { 'Fn::Sub': 'arn:${AWS::Partition}:iam::${AWS::AccountId}:user/${UserPathPattern}' },
      { 'Fn::Sub': 'arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${RolePathPattern}' },
      // Reads only, of any user or role: a deleted one is authorised without its path.
      [{ 'Fn::Sub': 'arn:${AWS::Partition}:iam::${AWS::AccountId}:user/*' }, { 'Fn::Sub': 'arn:${AWS::Partition}:iam::${AWS::AccountId}:role/*' }],
    ]);
    expect(allows[2]!.Action).toEqual(['iam:GetUser', 'iam:GetRole']);
  });

  it('can never put policies on itself, on the provisioner role, on rolegate, or on grant roles, nor pass roles', () => {
    // Whole statements, none conditional: every deny applies everywhere it names.
    expect(plain.filter((s) => s.Effect === 'Deny')).toEqual([
      {
        Sid: 'NeverOnItselfOrGrantRoles',
        Effect: 'Deny',
        Action: ['iam:PutRolePolicy', 'iam:DeleteRolePolicy'],
        Resource: [roleArn('${RoleName}'), roleArn('${ProvisionerRoleName}'), roleArn('rolegate/*')],
      },
      // Every execution role (the stack's RolegateAllExecutionRoleArns, the Slack function's included), not only the trusted ones.
      { Sid: 'NeverOnRolegatesExecutionRoles', Effect: 'Deny', Action: ['iam:PutRolePolicy', 'iam:DeleteRolePolicy'], Resource: { Ref: 'RolegateAllExecutionRoleArns' } },
      { Sid: 'NeverPassRoles', Effect: 'Deny', Action: 'iam:PassRole', Resource: '*' },
    ]);
  });

  it('makes the deployer choose which managed policies rolegate may attach in a target account (no default)', () => {
    const parameters = template('provisioner-role.yaml').Parameters as Record<string, { Default?: string; Type: string }>;
    expect(parameters.AllowedPolicyArns).toMatchObject({ Type: 'CommaDelimitedList' });
    expect(parameters.AllowedPolicyArns!.Default).toBeUndefined();
    expect(parameters.RoleName!.Default).toBe('rolegate-provisioner');
  });

  it('makes the deployer choose which users and workload roles it may grant (no default that reaches them)', () => {
    const parameters = template('identity-granter-role.yaml').Parameters as Record<string, { Default?: string }>;
    expect(parameters.UserPathPattern!.Default).toBeUndefined();
    expect(parameters.RolePathPattern!.Default).toBeUndefined();
    expect(parameters.ProvisionerRoleName!.Default).toBe('rolegate-provisioner');
  });

  it('trusts only the rolegate functions that grant in the identity account, and only with the ExternalId', () => {
    // RolegateIdentityExecutionRoleArns: the API, the worker and the sweeper; not the reconciler, which never acts here.
    expect(template('identity-granter-role.yaml').Resources.IdentityGranterRole!.Properties.AssumeRolePolicyDocument.Statement).toEqual([
      { Effect: 'Allow', Principal: { AWS: { Ref: 'RolegateIdentityExecutionRoleArns' } }, Action: 'sts:AssumeRole', Condition: { StringEquals: { 'sts:ExternalId': { Ref: 'ExternalId' } } } },
    ]);
    expect(Object.keys(template('identity-granter-role.yaml').Parameters).filter((p) => p.endsWith('RoleArns')).sort()).toEqual(['RolegateAllExecutionRoleArns', 'RolegateIdentityExecutionRoleArns']);
  });
});
