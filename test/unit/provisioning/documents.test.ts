import { ProvisioningError } from '../../../src/domain/errors';
import type { GrantSpec } from '../../../src/domain/ports';
import { parsePrincipalArn } from '../../../src/domain/principal';
import { desiredRole, policySize, trustPolicy, validateDesiredRole } from '../../../src/domain/provisioning/documents';
import { roleNameFor, ROLE_PATH } from '../../../src/domain/provisioning/role-name';
import { switchRoleUrl, cliProfile } from '../../../src/domain/provisioning/access-details';
import { exampleSettings } from '../../helpers/settings';

const settings = exampleSettings();
const alice = parsePrincipalArn('arn:aws:iam::111111111111:user/alice');
const app = parsePrincipalArn('arn:aws:iam::111111111111:role/app-billing');

function spec(over: Partial<GrantSpec> = {}): GrantSpec {
  const profile = settings.profiles.find((p) => p.name === 'EC2Admin')!;
  const account = settings.accounts[1]!;
  const principal = over.principal ?? alice;
  const roleName = roleNameFor(profile.name, principal);
  return { grantKey: `${account.id}#${roleName}`, account, profile, principal, roleName, endsAt: '2026-03-02T10:00:00.000Z', requestIds: ['01A'], partition: 'aws', ...over };
}

describe('trust policy', () => {
  it('requires MFA for people where the profile asks, with the end time as a DateLessThan condition', () => {
    expect(trustPolicy(spec()).Statement[0]!.Condition).toEqual({ DateLessThan: { 'aws:CurrentTime': '2026-03-02T10:00:00.000Z' }, Bool: { 'aws:MultiFactorAuthPresent': 'true' } });
  });

  it('never asks a workload role for MFA, and adds the ExternalId where the rule sets one', () => {
    expect(trustPolicy(spec({ principal: app, externalId: 'billing-ext' })).Statement[0]!.Condition).toEqual({
      DateLessThan: { 'aws:CurrentTime': '2026-03-02T10:00:00.000Z' },
      StringEquals: { 'sts:ExternalId': 'billing-ext' },
    });
  });
});

describe('role names', () => {
  it('are deterministic, distinct per principal identity, and fit path + name in 64 characters', () => {
    const long = parsePrincipalArn(`arn:aws:iam::111111111111:user/${'a'.repeat(64)}`);
    const name = roleNameFor('EC2Admin', long);
    expect(ROLE_PATH.length + name.length).toBe(64);
    expect(roleNameFor('EC2Admin', long)).toBe(name);
    expect(roleNameFor('EC2Admin', parsePrincipalArn('arn:aws:iam::444444444444:user/alice'))).not.toBe(roleNameFor('EC2Admin', alice));
    expect(roleNameFor('EC2Admin', parsePrincipalArn('arn:aws:iam::111111111111:role/alice'))).not.toBe(roleNameFor('EC2Admin', alice));
    expect(roleNameFor('EC2Admin', alice)).toMatch(/^rg-EC2Admin-alice-[0-9a-f]{8}$/);
  });
});

describe('limits, checked before anything is sent', () => {
  const withPaddedTrust = (chars: number) => {
    const d = desiredRole(spec());
    const base = policySize(d.trustPolicy);
    const padded = { ...d, trustPolicy: { ...d.trustPolicy, Statement: [{ ...d.trustPolicy.Statement[0], Sid: `${d.trustPolicy.Statement[0]!.Sid}${'x'.repeat(chars - base)}` }] } };
    expect(policySize(padded.trustPolicy)).toBe(chars);
    return padded;
  };

  it('accepts a trust policy of exactly 2,048 characters without whitespace and refuses 2,049', () => {
    expect(() => validateDesiredRole(withPaddedTrust(2048), 2048)).not.toThrow();
    expect(() => validateDesiredRole(withPaddedTrust(2049), 2048)).toThrow(
      new ProvisioningError("The trust policy is 2049 characters without whitespace; this account's IAM quota is 2048 (raise it with AWS and set trustPolicyMaxChars).", undefined, false),
    );
  });

  it('honours a raised per-account quota', () => {
    expect(() => validateDesiredRole(withPaddedTrust(4000), 4096)).not.toThrow();
  });

  it('counts characters without whitespace', () => {
    expect(policySize({ a: 'x y' })).toBe(policySize({ a: 'xy' }));
  });

  it('accepts an inline policy of 10,240 characters and refuses 10,241', () => {
    const d = desiredRole(spec());
    const sized = (n: number) => {
      const doc = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: '' }] };
      doc.Statement[0]!.Resource = 'r'.repeat(n - policySize(doc));
      return doc;
    };
    expect(() => validateDesiredRole({ ...d, inlinePolicy: sized(10_240) })).not.toThrow();
    expect(() => validateDesiredRole({ ...d, inlinePolicy: sized(10_241) })).toThrow(/inline policy is 10241 characters.*IAM allows 10240/);
  });

  it('refuses a wildcard or root principal and a too-long path + name', () => {
    const d = desiredRole(spec());
    const withPrincipal = (arn: string) => ({ ...d, trustPolicy: { ...d.trustPolicy, Statement: [{ ...d.trustPolicy.Statement[0], Principal: { AWS: arn } }] } });
    expect(() => validateDesiredRole(withPrincipal('*'))).toThrow(/never a wildcard or an account root/);
    expect(() => validateDesiredRole(withPrincipal('arn:aws:iam::111111111111:root'))).toThrow(/never a wildcard or an account root/);
    expect(() => validateDesiredRole(withPrincipal('arn:aws:iam::111111111111:user/*'))).toThrow(/never a wildcard/);
    expect(() => validateDesiredRole({ ...d, roleName: 'r'.repeat(55) })).toThrow('Path and role name are 65 characters; console switch-role allows 64.');
    expect(() => validateDesiredRole({ ...d, roleName: 'bad name' })).toThrow(/naming rules/);
  });
});

describe('access details', () => {
  it('builds the console switch-role link with the role path the console expects', () => {
    expect(switchRoleUrl('arn:aws:iam::333333333333:role/rolegate/rg-x', '333333333333', 'production-EC2Admin')).toBe(
      'https://signin.aws.amazon.com/switchrole?roleName=rolegate%2Frg-x&account=333333333333&displayName=production-EC2Admin',
    );
  });

  it('adds mfa_serial to the CLI profile only for a user on an MFA profile', () => {
    const p = settings.profiles.find((x) => x.name === 'EC2Admin')!;
    expect(cliProfile('prod', 'arn:aws:iam::333333333333:role/rolegate/rg-x', alice, p)).toBe(
      '[profile prod]\nrole_arn = arn:aws:iam::333333333333:role/rolegate/rg-x\nsource_profile = default\nmfa_serial = arn:aws:iam::111111111111:mfa/alice\nduration_seconds = 7200',
    );
    expect(cliProfile('prod', 'arn:aws:iam::333333333333:role/rolegate/rg-x', app, p)).not.toContain('mfa_serial');
  });
});
