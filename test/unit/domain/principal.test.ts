import { arnMatches, callerIdentity, identityCenterSessionOf, parsePrincipalArn, principalFromCallerArn, samePrincipal } from '../../../src/domain/principal';

const personOfCaller = (callerArn: string) => callerIdentity(callerArn).person;
import { ValidationError } from '../../../src/domain/errors';

describe('principal ARNs', () => {
  it('parses a user ARN with a path', () => {
    const p = parsePrincipalArn('arn:aws:iam::111111111111:user/engineering/alice');
    expect(p).toEqual({ arn: 'arn:aws:iam::111111111111:user/engineering/alice', partition: 'aws', accountId: '111111111111', type: 'user', path: '/engineering/', name: 'alice' });
  });

  it('normalises an assumed-role session ARN to its role', () => {
    expect(principalFromCallerArn('arn:aws:sts::111111111111:assumed-role/app-billing/i-0abc').arn).toBe('arn:aws:iam::111111111111:role/app-billing');
  });

  it('puts a session\'s role under the path of the first rolePaths entry its name matches', () => {
    const rolePaths = [
      { roleName: 'AWSReservedSSO_*', path: '/aws-reserved/sso.amazonaws.com/eu-west-1/' },
      { roleName: 'AWSReservedSSO_Admin_*', path: '/never-reached/' },
      { roleName: 'ci-?', path: '/ci/' },
    ];
    const sso = principalFromCallerArn('arn:aws:sts::111111111111:assumed-role/AWSReservedSSO_Admin_0123abcd/alice@example.com', rolePaths);
    expect(sso).toEqual({
      arn: 'arn:aws:iam::111111111111:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_Admin_0123abcd',
      partition: 'aws',
      accountId: '111111111111',
      type: 'role',
      path: '/aws-reserved/sso.amazonaws.com/eu-west-1/',
      name: 'AWSReservedSSO_Admin_0123abcd',
    });
    expect(principalFromCallerArn('arn:aws:sts::111111111111:assumed-role/ci-7/build', rolePaths).arn).toBe('arn:aws:iam::111111111111:role/ci/ci-7');
    // No match: the root path, as without rolePaths.
    expect(principalFromCallerArn('arn:aws:sts::111111111111:assumed-role/ci-77/build', rolePaths).arn).toBe('arn:aws:iam::111111111111:role/ci-77');
    // Names match case-sensitively: a look-alike in another case, which an SCP on role/*AWSReservedSSO* does not
    // stop anyone creating, does not get Identity Center's path (where approver patterns would admit it).
    expect(principalFromCallerArn('arn:aws:sts::111111111111:assumed-role/awsreservedsso_Admin_x/mallory', rolePaths).arn).toBe('arn:aws:iam::111111111111:role/awsreservedsso_Admin_x');
    expect(principalFromCallerArn('arn:aws:sts::111111111111:assumed-role/CI-7/build', rolePaths).arn).toBe('arn:aws:iam::111111111111:role/CI-7');
    // The whole name matches, from its first character: a role whose name only ends like the pattern is not placed.
    expect(principalFromCallerArn('arn:aws:sts::111111111111:assumed-role/MyAWSReservedSSO_Admin_x/mallory', rolePaths).arn).toBe('arn:aws:iam::111111111111:role/MyAWSReservedSSO_Admin_x');
    // A user ARN carries its own path; rolePaths never applies to it.
    expect(principalFromCallerArn('arn:aws:iam::111111111111:user/AWSReservedSSO_x', rolePaths).arn).toBe('arn:aws:iam::111111111111:user/AWSReservedSSO_x');
    // The same role with or without the path is one IAM identity.
    expect(samePrincipal(sso, principalFromCallerArn('arn:aws:sts::111111111111:assumed-role/AWSReservedSSO_Admin_0123abcd/bob'))).toBe(true);
    // One account id in two partitions is two accounts.
    expect(samePrincipal(parsePrincipalArn('arn:aws:iam::111111111111:user/alice'), parsePrincipalArn('arn:aws-cn:iam::111111111111:user/alice'))).toBe(false);
  });

  it.each([
    ['arn:aws:iam::111111111111:root', 'an account root'],
    ['arn:aws:iam::*:root', 'a wildcard account root'],
    ['arn:aws:iam::111111111111:user/*', 'a wildcard name'],
    ['arn:aws:iam::11111111111:user/alice', 'an 11-digit account'],
    ['arn:aws:iam::111111111111:user/al"ice', 'a quote'],
    ['arn:aws:iam::111111111111:user/alice\n', 'a newline'],
    ['arn:aws:iam::111111111111:user/аlice', 'a Cyrillic look-alike letter'],
    ['arn:aws:sts::111111111111:federated-user/alice', 'a federated user'],
    ['arn:aws:iam::111111111111:group/admins', 'a group'],
    ['arn:evil:iam::111111111111:user/alice', 'an unknown partition'],
    ['arn:aws:iam::111111111111:user/' + 'a'.repeat(65), 'a 65-character name'],
  ])('refuses %s (%s)', (arn) => {
    expect(() => parsePrincipalArn(arn)).toThrow(ValidationError);
  });

  it('treats case and path variants of a name as the same IAM identity', () => {
    const a = parsePrincipalArn('arn:aws:iam::111111111111:user/alice');
    expect(samePrincipal(a, parsePrincipalArn('arn:aws:iam::111111111111:user/ALICE'))).toBe(true);
    expect(samePrincipal(a, parsePrincipalArn('arn:aws:iam::111111111111:user/team/alice'))).toBe(true);
    expect(samePrincipal(a, parsePrincipalArn('arn:aws:iam::111111111111:role/alice'))).toBe(false);
    expect(samePrincipal(a, parsePrincipalArn('arn:aws:iam::222222222222:user/alice'))).toBe(false);
  });

  it('matches configuration patterns with * and ? only, case-sensitively as IAM matches ARNs, and in any case only when asked (freeze)', () => {
    expect(arnMatches('arn:aws:iam::111111111111:user/lead-anna', 'arn:aws:iam::111111111111:user/lead-*')).toBe(true);
    expect(arnMatches('arn:aws:iam::111111111111:user/LEAD-anna', 'arn:aws:iam::111111111111:user/lead-*')).toBe(false);
    expect(arnMatches('arn:aws:iam::111111111111:user/LEAD-anna', 'arn:aws:iam::111111111111:user/lead-*', { anyCase: true })).toBe(true);
    // Asked both ways, one pattern keeps both answers (they are cached apart).
    expect(arnMatches('arn:aws:iam::111111111111:user/LEAD-anna', 'arn:aws:iam::111111111111:user/lead-*')).toBe(false);
    expect(arnMatches('arn:aws:iam::111111111111:role/awsreservedsso_Lead_x', 'arn:aws:iam::111111111111:role/AWSReservedSSO_Lead_*')).toBe(false);
    expect(arnMatches('arn:aws:iam::111111111111:user/leadXanna', 'arn:aws:iam::111111111111:user/lead.anna')).toBe(false);
    expect(arnMatches('arn:aws:iam::111111111111:user/bob', 'arn:aws:iam::111111111111:user/lead-*')).toBe(false);
    expect(arnMatches('arn:aws:iam::111111111111:user/ab', 'arn:aws:iam::111111111111:user/a?')).toBe(true);
  });
});

describe('the person behind a caller', () => {
  it('is the session name of an Identity Center role, which Identity Center sets to the user name, in lower case', () => {
    expect(personOfCaller('arn:aws:sts::111111111111:assumed-role/AWSReservedSSO_Lead_9f8e7d6c5b4a3f2e/Alice@Example.com')).toBe('alice@example.com');
    expect(personOfCaller('arn:aws-us-gov:sts::111111111111:assumed-role/AWSReservedSSO_Dev_0a1b/bob')).toBe('bob');
  });

  it('is not named for an IAM user, nor for another role, whose session name its caller chose', () => {
    expect(personOfCaller('arn:aws:iam::111111111111:user/alice')).toBeUndefined();
    expect(personOfCaller('arn:aws:sts::111111111111:assumed-role/lead-anna/alice@example.com')).toBeUndefined();
    expect(personOfCaller('arn:aws:sts::111111111111:assumed-role/MyAWSReservedSSO_Lead/alice@example.com')).toBeUndefined();
    // Another case of the prefix is not Identity Center's, and the README's SCP (case-sensitive, as IAM matches ARNs) does not stop anyone creating it.
    expect(personOfCaller('arn:aws:sts::111111111111:assumed-role/awsreservedsso_Lead_9f8e/alice@example.com')).toBeUndefined();
    expect(personOfCaller('arn:aws:sts::111111111111:assumed-role/AWSRESERVEDSSO_Lead_9f8e/alice@example.com')).toBeUndefined();
    expect(personOfCaller('arn:aws:iam::111111111111:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Lead_9f8e')).toBeUndefined();
  });

  it("keeps the session name's case for a personal grant's pin, and names none where personOfCaller names no one or STS would not issue it", () => {
    expect(identityCenterSessionOf('arn:aws:sts::111111111111:assumed-role/AWSReservedSSO_Lead_9f8e7d6c5b4a3f2e/Alice@Example.com')).toBe('Alice@Example.com');
    expect(identityCenterSessionOf('arn:aws:sts::111111111111:assumed-role/lead-anna/alice@example.com')).toBeUndefined();
    expect(identityCenterSessionOf('arn:aws:sts::111111111111:assumed-role/awsreservedsso_Lead_9f8e/alice@example.com')).toBeUndefined();
    expect(identityCenterSessionOf('arn:aws:iam::111111111111:user/alice')).toBeUndefined();
    // A wildcard or a space never reaches a trust policy (the local run's header could carry one).
    expect(identityCenterSessionOf('arn:aws:sts::111111111111:assumed-role/AWSReservedSSO_Lead_9f8e/ali*')).toBeUndefined();
    expect(identityCenterSessionOf('arn:aws:sts::111111111111:assumed-role/AWSReservedSSO_Lead_9f8e/alice smith')).toBeUndefined();
    expect(identityCenterSessionOf('arn:aws:sts::111111111111:assumed-role/AWSReservedSSO_Lead_9f8e/a')).toBeUndefined();
    expect(personOfCaller('arn:aws:sts::111111111111:assumed-role/AWSReservedSSO_Lead_9f8e/ali*')).toBe('ali*');
  });
});
