import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

const ROOT = join(__dirname, '..', '..', '..');
type Statement = { Sid: string; Effect: 'Allow' | 'Deny'; Action: string | string[]; Resource?: unknown; NotResource?: unknown; Condition?: unknown };

function statements(file: string, resource: string): Statement[] {
  const doc = parse(readFileSync(join(ROOT, 'templates', file), 'utf8'));
  return doc.Resources[resource].Properties.Policies[0].PolicyDocument.Statement;
}
const actions = (s: Statement) => (Array.isArray(s.Action) ? s.Action : [s.Action]);

/** IAM commands the provisioner sends, read from its imports so the template cannot fall behind the code. */
function commandsUsed(file: string): string[] {
  const source = readFileSync(join(ROOT, 'src', 'adapters', 'aws', file), 'utf8');
  const imports = /import \{([^}]+)\} from '@aws-sdk\/client-iam'/.exec(source)![1]!;
  return [...imports.matchAll(/(\w+)Command\b/g)].map((m) => `iam:${m[1]}`);
}

describe('provisioner role template (target accounts)', () => {
  const policy = statements('provisioner-role.yaml', 'ProvisionerRole');
  const allowed = new Set(policy.filter((s) => s.Effect === 'Allow').flatMap(actions));

  it('allows every IAM action the provisioner uses and nothing more', () => {
    expect([...allowed].sort()).toEqual([...new Set(commandsUsed('iam-provisioner.ts'))].sort());
  });

  it('scopes every allowed action to roles under /rolegate/, except ListRoles which IAM cannot scope', () => {
    for (const s of policy.filter((x) => x.Effect === 'Allow')) {
      if (actions(s).includes('iam:ListRoles')) {
        expect(actions(s)).toEqual(['iam:ListRoles']);
        continue;
      }
      expect(s.Resource).toEqual({ 'Fn::Sub': 'arn:${AWS::Partition}:iam::${AWS::AccountId}:role/rolegate/*' });
    }
  });

  it('never allows iam:PassRole and denies it outright', () => {
    expect(allowed.has('iam:PassRole')).toBe(false);
    expect(policy).toContainEqual(expect.objectContaining({ Effect: 'Deny', Action: 'iam:PassRole' }));
  });

  it('trusts only rolegate, and only with the ExternalId', () => {
    const doc = parse(readFileSync(join(ROOT, 'templates', 'provisioner-role.yaml'), 'utf8'));
    expect(doc.Resources.ProvisionerRole.Properties.AssumeRolePolicyDocument.Statement).toEqual([
      { Effect: 'Allow', Principal: { AWS: { Ref: 'RolegateExecutionRoleArns' } }, Action: 'sts:AssumeRole', Condition: { StringEquals: { 'sts:ExternalId': { Ref: 'ExternalId' } } } },
    ]);
  });
});

describe('identity-granter role template', () => {
  it('allows exactly the calls the identity granter makes', () => {
    const allowed = statements('identity-granter-role.yaml', 'IdentityGranterRole').filter((s) => s.Effect === 'Allow').flatMap(actions);
    expect(allowed.sort()).toEqual(commandsUsed('identity-granter.ts').sort());
  });
});
