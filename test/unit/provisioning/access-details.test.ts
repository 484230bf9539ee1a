import { parsePrincipalArn } from '../../../src/domain/principal';
import { accessDetails, cliProfile, switchRoleUrl } from '../../../src/domain/provisioning/access-details';
import { account, alice, billingApp, END, profile } from './fixtures';

const ROLE = 'arn:aws:iam::333333333333:role/rolegate/rg-EC2Admin-alice-1a2b3c4d';

describe('console switch-role link', () => {
  it('puts the role path before the name, without the leading slash, URL-encoded', () => {
    expect(switchRoleUrl(ROLE, '333333333333', 'production-EC2Admin')).toBe(
      'https://signin.aws.amazon.com/switchrole?roleName=rolegate%2Frg-EC2Admin-alice-1a2b3c4d&account=333333333333&displayName=production-EC2Admin',
    );
  });

  it('uses the sign-in host of the GovCloud and China partitions', () => {
    expect(switchRoleUrl('arn:aws-us-gov:iam::333333333333:role/rolegate/rg-x', '333333333333', 'gov')).toMatch(/^https:\/\/signin\.amazonaws-us-gov\.com\/switchrole\?roleName=rolegate%2Frg-x&/);
    expect(switchRoleUrl('arn:aws-cn:iam::333333333333:role/rolegate/rg-x', '333333333333', 'cn')).toMatch(/^https:\/\/signin\.amazonaws\.cn\/switchrole\?roleName=rolegate%2Frg-x&/);
  });

  it('encodes a display name and cuts it to the 64 characters the console shows', () => {
    const url = new URL(switchRoleUrl(ROLE, '333333333333', `a&b=c ${'x'.repeat(80)}`));
    expect(url.searchParams.get('displayName')).toBe(`a&b=c ${'x'.repeat(58)}`);
    expect(url.searchParams.get('roleName')).toBe('rolegate/rg-EC2Admin-alice-1a2b3c4d');
  });
});

describe('~/.aws/config profile', () => {
  it('asks a person for MFA on an MFA profile, for the whole session length the role allows', () => {
    expect(cliProfile('production-EC2Admin', ROLE, alice, profile('EC2Admin'))).toBe(
      [
        '[profile production-EC2Admin]',
        `role_arn = ${ROLE}`,
        'source_profile = default',
        'mfa_serial = arn:aws:iam::111111111111:mfa/alice',
        'duration_seconds = 7200',
      ].join('\n'),
    );
  });

  it('gives a workload role no MFA and at most one hour, the role-chaining limit', () => {
    expect(cliProfile('production-EC2Admin', ROLE, billingApp, profile('EC2Admin'))).toBe(
      ['[profile production-EC2Admin]', `role_arn = ${ROLE}`, 'source_profile = default', 'duration_seconds = 3600'].join('\n'),
    );
  });

  it('carries the ExternalId the trust requires', () => {
    expect(cliProfile('p', ROLE, billingApp, profile('ReadOnly'), { externalId: 'billing-ext' })).toContain('\nexternal_id = billing-ext\n');
  });

  it("names the account's region, where STS is asked for the session (a profile does not take its source profile's)", () => {
    expect(cliProfile('p', ROLE, billingApp, profile('ReadOnly'), { region: 'us-gov-west-1' })).toBe(
      ['[profile p]', `role_arn = ${ROLE}`, 'source_profile = default', 'region = us-gov-west-1', 'duration_seconds = 3600'].join('\n'),
    );
  });

  it('names the MFA device in the GovCloud partition with that partition', () => {
    const gov = parsePrincipalArn('arn:aws-us-gov:iam::111111111111:user/alice');
    expect(cliProfile('p', ROLE, gov, profile('EC2Admin'))).toContain('mfa_serial = arn:aws-us-gov:iam::111111111111:mfa/alice');
  });
});

describe('access details', () => {
  it('hand the requester the role, the link, the profile, the end and the propagation note', () => {
    const details = accessDetails(ROLE, account('production'), profile('ReadOnly'), alice, END);
    expect(details).toEqual({
      roleArn: ROLE,
      accountId: '333333333333',
      roleName: 'rg-EC2Admin-alice-1a2b3c4d',
      switchRoleUrl: switchRoleUrl(ROLE, '333333333333', 'production-ReadOnly'),
      cliProfile: cliProfile('production-ReadOnly', ROLE, alice, profile('ReadOnly')),
      endsAt: END,
      note: 'IAM is eventually consistent: the first assumption of a new role can fail for a few seconds; try again shortly.',
    });
  });

  it("give the profile the account's region when the configuration names one, and none otherwise", () => {
    const withRegion = accessDetails(ROLE, { ...account('production'), region: 'eu-central-1' }, profile('ReadOnly'), alice, END);
    expect(withRegion.cliProfile.split('\n')).toContain('region = eu-central-1');
    expect(accessDetails(ROLE, account('production'), profile('ReadOnly'), alice, END).cliProfile).not.toContain('region');
  });

  it('tell a workload that a role with an ExternalId cannot be used from the console', () => {
    expect(accessDetails(ROLE, account('production'), profile('ReadOnly'), billingApp, END, { externalId: 'e1' }).note).toMatch(/not from the console switch-role page/);
  });

  it('tell an Identity Center user to source the CLI profile from their SSO profile, and no one else', () => {
    const sso = parsePrincipalArn('arn:aws:iam::111111111111:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Dev_0a1b');
    expect(accessDetails(ROLE, account('production'), profile('ReadOnly'), sso, END).note).toMatch(/set source_profile to the name of your Identity Center \(SSO\) profile for this permission set\.$/);
    expect(accessDetails(ROLE, account('production'), profile('ReadOnly'), alice, END).note).not.toContain('source_profile');
  });
});
