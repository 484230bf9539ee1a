import { ProvisioningError } from '../../../src/domain/errors';
import { createHash } from 'node:crypto';
import { parsePrincipalArn, principalKey } from '../../../src/domain/principal';
import {
  desiredRole,
  identityPolicy,
  policySize,
  requestsTagValue,
  trustPolicy,
  validateDocuments,
  type DesiredRole,
  roleInlinePolicy,
  samePolicy,
  parsePolicy,
  trustBeforeSourceIdentity,
  trustWidens,
  deletedPrincipalIn,
  containedRoleProblem,
  foreignDenies,
  isDenyOnlyManaged,
  isLockedDown,
  keepingDenies,
  LOCKED_DOWN_STATEMENT,
} from '../../../src/domain/provisioning/documents';
import { MAX_ROLE_NAME, ROLE_PATH, roleNameFor } from '../../../src/domain/provisioning/role-name';
import { account, alice, billingApp, END, grantSpec, profile } from './fixtures';
import type { GrantSpec } from '../../../src/domain/ports';

/** Runs the builder and returns the ProvisioningError it throws (fails the test if it does not throw one). */
function refusal(build: () => unknown): ProvisioningError {
  try {
    build();
  } catch (e) {
    expect(e).toBeInstanceOf(ProvisioningError);
    return e as ProvisioningError;
  }
  throw new Error('expected a ProvisioningError');
}

describe('trust policy', () => {
  it('trusts exactly the principal, to assume the role carrying the source identity it has, until the grant ends', () => {
    expect(trustPolicy(grantSpec())).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'RolegateGrant',
          Effect: 'Allow',
          Principal: { AWS: 'arn:aws:iam::111111111111:user/alice' },
          Action: ['sts:AssumeRole', 'sts:SetSourceIdentity'],
          Condition: { DateLessThan: { 'aws:CurrentTime': END }, StringEqualsIfExists: { 'sts:SourceIdentity': '${aws:SourceIdentity}' } },
        },
      ],
    });
  });

  it('requires MFA for a person when the profile asks for it', () => {
    expect(trustPolicy(grantSpec({ profile: profile('EC2Admin') })).Statement[0]!.Condition).toEqual({
      DateLessThan: { 'aws:CurrentTime': END },
      Bool: { 'aws:MultiFactorAuthPresent': 'true' },
      StringEqualsIfExists: { 'sts:SourceIdentity': '${aws:SourceIdentity}' },
    });
  });

  it('never asks a workload role for MFA, even on a profile that requires it', () => {
    expect(trustPolicy(grantSpec({ principal: billingApp, profile: profile('EC2Admin') })).Statement[0]!.Condition).toEqual({
      DateLessThan: { 'aws:CurrentTime': END },
      StringEqualsIfExists: { 'sts:SourceIdentity': '${aws:SourceIdentity}' },
    });
  });

  it('adds the ExternalId condition only when the rule sets one', () => {
    expect(trustPolicy(grantSpec({ principal: billingApp, externalId: 'billing-ext' })).Statement[0]!.Condition).toEqual({
      DateLessThan: { 'aws:CurrentTime': END },
      StringEquals: { 'sts:ExternalId': 'billing-ext' },
      StringEqualsIfExists: { 'sts:SourceIdentity': '${aws:SourceIdentity}' },
    });
    expect(trustPolicy(grantSpec({ principal: billingApp })).Statement[0]!.Condition).not.toHaveProperty('StringEquals');
  });

  it("pins a personal grant to one session name of the principal role, case kept, and nothing else to none", () => {
    const sso = parsePrincipalArn('arn:aws:iam::111111111111:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Dev_0a1b');
    expect(trustPolicy(grantSpec({ principal: sso, session: 'Alice@Example.com' })).Statement).toEqual([
      {
        Sid: 'RolegateGrant',
        Effect: 'Allow',
        Principal: { AWS: sso.arn },
        Action: ['sts:AssumeRole', 'sts:SetSourceIdentity'],
        Condition: {
          DateLessThan: { 'aws:CurrentTime': END },
          StringLike: { 'aws:userid': '*:Alice@Example.com' },
          StringEqualsIfExists: { 'sts:SourceIdentity': '${aws:SourceIdentity}' },
        },
      },
    ]);
    expect(trustPolicy(grantSpec({ principal: sso })).Statement[0]!.Condition).not.toHaveProperty('StringLike');
    expect(desiredRole(grantSpec({ principal: sso, session: 'Alice@Example.com' })).description).toBe(`rolegate grant: S3ReadOnly for ${sso.arn} as Alice@Example.com`);
  });
});

describe('trustWidens (the trust is written first when it narrows, last when it widens)', () => {
  const LATER = '2026-03-02T12:00:00.000Z';
  const DENY = { Sid: 'Incident', Effect: 'Deny', Principal: { AWS: '*' }, Action: 'sts:AssumeRole' };
  const base = trustPolicy(grantSpec());
  const cases: [string, unknown, ReturnType<typeof trustPolicy>, boolean][] = [
    ['a later end', base, trustPolicy(grantSpec({ endsAt: LATER })), true],
    ['an earlier end', trustPolicy(grantSpec({ endsAt: LATER })), base, false],
    ['the MFA condition dropped', trustPolicy(grantSpec({ profile: profile('EC2Admin') })), base, true],
    ['the MFA condition added', base, trustPolicy(grantSpec({ profile: profile('EC2Admin') })), false],
    ['the ExternalId changed', trustPolicy(grantSpec({ principal: billingApp, externalId: 'old-ext' })), trustPolicy(grantSpec({ principal: billingApp, externalId: 'new-ext' })), true],
    ['the ExternalId added', trustPolicy(grantSpec({ principal: billingApp })), trustPolicy(grantSpec({ principal: billingApp, externalId: 'new-ext' })), false],
    ['another principal trusted now (edited by hand)', trustPolicy(grantSpec({ principal: billingApp })), trustPolicy(grantSpec({ endsAt: LATER })), false],
    ['a trust of another shape', { Version: '2012-10-17', Statement: [base.Statement[0], base.Statement[0]] }, base, false],
    // A second Allow someone added (another principal) makes it another shape: written first, as a narrowing, whatever the end.
    ['a later end, over a trust with a hand-added Allow for someone else', { ...base, Statement: [base.Statement[0], trustPolicy(grantSpec({ principal: billingApp })).Statement[0]] }, trustPolicy(grantSpec({ endsAt: LATER })), false],
    ['a current trust with no end', { ...base, Statement: [{ ...base.Statement[0], Condition: {} }] }, base, true],
    ['the session pin dropped', trustPolicy(grantSpec({ session: 'alice' })), base, true],
    ['the session pin moved to another name', trustPolicy(grantSpec({ session: 'alice' })), trustPolicy(grantSpec({ session: 'bob' })), true],
    ['the session pin added', base, trustPolicy(grantSpec({ session: 'alice' })), false],
    ['sts:SetSourceIdentity added to a trust written before rolegate allowed it', trustBeforeSourceIdentity(base), base, true],
    ['the source-identity pin dropped', base, { ...base, Statement: [{ ...base.Statement[0], Condition: { DateLessThan: { 'aws:CurrentTime': END } } }] }, true],
    ['back to sts:AssumeRole alone', base, trustBeforeSourceIdentity(base), false],
    // A responder's Deny beside the Allow changes neither way: the one Allow is what is compared.
    ['a later end, with a responder\'s Deny kept beside it', { ...base, Statement: [...base.Statement, DENY] }, { ...trustPolicy(grantSpec({ endsAt: LATER })), Statement: [...trustPolicy(grantSpec({ endsAt: LATER })).Statement, DENY] }, true],
    ['an earlier end, with a responder\'s Deny kept beside it', { ...trustPolicy(grantSpec({ endsAt: LATER })), Statement: [...trustPolicy(grantSpec({ endsAt: LATER })).Statement, DENY] }, { ...base, Statement: [...base.Statement, DENY] }, false],
    ['a trust written before, brought up to date with an earlier end', trustBeforeSourceIdentity(trustPolicy(grantSpec({ endsAt: LATER }))), base, true],
    ['an action someone added dropped', { ...base, Statement: [{ ...base.Statement[0], Action: ['sts:AssumeRole', 'sts:SetSourceIdentity', 'sts:TagSession'] }] }, base, false],
  ];
  it.each(cases)('%s', (_what, current, desired, widens) => {
    expect(trustWidens(current, desired)).toBe(widens);
  });
});

describe('containment: what rolegate keeps of a role someone contained, and when it locks the role', () => {
  const trust = trustPolicy(grantSpec());
  const DENY = { Effect: 'Deny', Principal: { AWS: 'arn:aws:iam::111111111111:user/mallory' }, Action: 'sts:AssumeRole' };

  it('takes only a Deny of sts:AssumeRole to every principal, unconditional, under the lock\'s Sid, for the lock', () => {
    expect(isLockedDown({ Version: '2012-10-17', Statement: [LOCKED_DOWN_STATEMENT] })).toBe(true);
    // As IAM may give it back: a lone statement, a principal list, every STS action.
    expect(isLockedDown({ Statement: { ...LOCKED_DOWN_STATEMENT, Principal: { AWS: ['*'] }, Action: 'sts:*' } })).toBe(true);
    // An Allow to everyone under the Sid opens the role: it is no lock, and rolegate rewrites it.
    expect(isLockedDown({ Statement: [{ ...LOCKED_DOWN_STATEMENT, Effect: 'Allow' }] })).toBe(false);
    // A Deny under a condition (until a time, from an address) admits everyone else: no lock.
    expect(isLockedDown({ Statement: [{ ...LOCKED_DOWN_STATEMENT, Condition: { DateLessThan: { 'aws:CurrentTime': END } } }] })).toBe(false);
    expect(isLockedDown({ Statement: [{ ...LOCKED_DOWN_STATEMENT, Principal: { AWS: 'arn:aws:iam::111111111111:user/mallory' } }] })).toBe(false);
    expect(isLockedDown({ Statement: [{ ...LOCKED_DOWN_STATEMENT, Sid: 'Incident' }] })).toBe(false);
    expect(isLockedDown({ Statement: [{ ...LOCKED_DOWN_STATEMENT, Action: 's3:*' }] })).toBe(false);
  });

  it("keeps AWS's own AWSDenyAll attached, never a policy of an account's that borrows its name", () => {
    expect(isDenyOnlyManaged('arn:aws:iam::aws:policy/AWSDenyAll')).toBe(true);
    expect(isDenyOnlyManaged('arn:aws-us-gov:iam::aws:policy/AWSDenyAll')).toBe(true);
    expect(isDenyOnlyManaged('arn:aws:iam::333333333333:policy/AWSDenyAll')).toBe(false);
    expect(isDenyOnlyManaged('arn:aws:iam::aws:policy/ReadOnlyAccess')).toBe(false);
  });

  it('keeps a Deny it did not write once, without a Sid the desired document uses, and none of its own', () => {
    // A Deny it writes itself, found as it writes it (a profile's own, with its Sid), is not kept beside itself.
    const withOwnDeny = { Version: '2012-10-17' as const, Statement: [...trust.Statement, { Sid: 'NoSecrets', Effect: 'Deny', Action: 'secretsmanager:*', Resource: '*' }] };
    expect(foreignDenies(withOwnDeny, withOwnDeny)).toEqual([]);
    expect(keepingDenies(withOwnDeny, withOwnDeny)).toEqual(withOwnDeny);
    // Rolegate's grant turned into a Deny is kept without the Sid (IAM refuses a Sid twice); the same Deny found twice is kept once.
    expect(foreignDenies({ Statement: [DENY, { ...DENY, Sid: 'RolegateGrant' }] }, trust)).toEqual([DENY]);
    expect(foreignDenies({ Statement: [{ ...DENY, Sid: 'RolegateGrant' }, DENY] }, trust)).toEqual([DENY]);
    // Its own end of access and hold are its to rewrite: never kept.
    expect(foreignDenies({ Statement: [{ ...DENY, Sid: 'RolegateAccessEnds' }, { ...DENY, Sid: 'RolegateProfileChanging' }] }, trust)).toEqual([]);
    expect(keepingDenies(trust, { Statement: [...trust.Statement, DENY] })).toEqual({ ...trust, Statement: [...trust.Statement, DENY] });
  });

  it('names the first IAM limit the kept Denies take a role past, and none at the limit itself', () => {
    const d = desiredRole(grantSpec());
    const padded = (doc: typeof d.trustPolicy, size: number) => {
      const pad = { Effect: 'Deny', Action: 'sts:AssumeRole', Principal: { AWS: 'arn:aws:iam::111111111111:user/p' } };
      const grow = (n: number) => ({ ...doc, Statement: [...doc.Statement, { ...pad, Principal: { AWS: `arn:aws:iam::111111111111:user/${'p'.repeat(n)}` } }] });
      const at = size - policySize(grow(1)) + 1;
      const out = grow(at);
      expect(policySize(out)).toBe(size);
      return out;
    };
    expect(containedRoleProblem({ ...d, trustPolicy: padded(d.trustPolicy, 2048) }, 0, {})).toBeUndefined();
    expect(containedRoleProblem({ ...d, trustPolicy: padded(d.trustPolicy, 2049) }, 0, {})).toBe("its trust policy would be 2049 characters without whitespace, over this account's quota of 2048");
    // An account's raised quota is the limit.
    expect(containedRoleProblem({ ...d, trustPolicy: padded(d.trustPolicy, 2500) }, 0, { trustPolicyMaxChars: 4096 })).toBeUndefined();
    expect(containedRoleProblem({ ...d, inlinePolicy: padded(d.inlinePolicy, 10240) }, 0, {})).toBeUndefined();
    expect(containedRoleProblem({ ...d, inlinePolicy: padded(d.inlinePolicy, 10241) }, 0, {})).toBe("its inline policy rolegate-profile would be 10241 characters without whitespace, over IAM's 10240");
    // IAM's limit is on all of a role's inline policies: a Deny-only one kept beside the profile policy counts.
    const profileSize = policySize(d.inlinePolicy);
    expect(containedRoleProblem(d, 0, {}, 10240 - profileSize)).toBeUndefined();
    expect(containedRoleProblem(d, 0, {}, 10241 - profileSize)).toBe(
      `its inline policies would be 10241 characters without whitespace (rolegate-profile ${profileSize}, the Deny-only ones kept beside it ${10241 - profileSize}), over IAM's 10240 for a role`,
    );
    expect(containedRoleProblem(d, 10 - d.managedPolicyArns.length, { managedPoliciesPerRoleMax: 10 })).toBeUndefined();
    expect(containedRoleProblem(d, 11 - d.managedPolicyArns.length, { managedPoliciesPerRoleMax: 10 })).toBe("it would hold 11 managed policies, over this account's 10 per role");
    // A grant recorded before rolegate kept the account's quota: IAM's most, 20.
    expect(containedRoleProblem(d, 20 - d.managedPolicyArns.length, {})).toBeUndefined();
    expect(containedRoleProblem(d, 21 - d.managedPolicyArns.length, {})).toBe("it would hold 21 managed policies, over this account's 20 per role");
  });
});

describe('trustBeforeSourceIdentity (the trust as rolegate wrote it before it allowed source identities)', () => {
  it('is the trust with sts:AssumeRole alone and without the pin: every other condition stays', () => {
    const spec = grantSpec({ profile: profile('EC2Admin'), externalId: 'ext-1', session: 'alice' });
    expect(trustBeforeSourceIdentity(trustPolicy(spec))).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'RolegateGrant',
          Effect: 'Allow',
          Principal: { AWS: alice.arn },
          Action: 'sts:AssumeRole',
          Condition: {
            DateLessThan: { 'aws:CurrentTime': END },
            Bool: { 'aws:MultiFactorAuthPresent': 'true' },
            StringEquals: { 'sts:ExternalId': 'ext-1' },
            StringLike: { 'aws:userid': '*:alice' },
          },
        },
      ],
    });
  });

  it('changes only rolegate\'s own statement, the Allow: a Deny beside it is as it was', () => {
    const base = trustPolicy(grantSpec());
    const deny = { Effect: 'Deny', Principal: { AWS: '*' }, Action: ['sts:AssumeRole', 'sts:SetSourceIdentity'], Condition: { StringEqualsIfExists: { 'sts:SourceIdentity': 'x' } } };
    expect(trustBeforeSourceIdentity({ ...base, Statement: [...base.Statement, deny] }).Statement).toEqual([...trustBeforeSourceIdentity(base).Statement, deny]);
  });

  it('drops only the pin\'s key: another condition under the same operator stays', () => {
    const base = trustPolicy(grantSpec());
    const condition = { ...base.Statement[0]!.Condition as object, StringEqualsIfExists: { 'sts:SourceIdentity': '${aws:SourceIdentity}', 'aws:RequestedRegion': 'eu-west-1' } };
    const before = trustBeforeSourceIdentity({ ...base, Statement: [{ ...base.Statement[0], Condition: condition }] });
    expect(before.Statement[0]!.Condition).toEqual({ DateLessThan: { 'aws:CurrentTime': END }, StringEqualsIfExists: { 'aws:RequestedRegion': 'eu-west-1' } });
  });
});

describe('deletedPrincipalIn (the id IAM shows once a trusted user or role is deleted)', () => {
  const base = trustPolicy(grantSpec());
  const naming = (aws: unknown) => ({ ...base, Statement: [{ ...base.Statement[0], Principal: { AWS: aws } }] });
  it.each([
    ['a deleted user', naming('AIDAJQABLZS4A3QDU576Q'), 'AIDAJQABLZS4A3QDU576Q'],
    ['a deleted role, as a one-element list', naming(['AROA3XFRBF535PLBIFPI4']), 'AROA3XFRBF535PLBIFPI4'],
    ['a live principal', base, undefined],
    ['an access key id (not a principal id)', naming('AKIAIOSFODNN7EXAMPLE'), undefined],
    ['a wildcard', naming('*'), undefined],
    ['among two principals', naming(['arn:aws:iam::111111111111:user/bob', 'AIDAJQABLZS4A3QDU577Q']), 'AIDAJQABLZS4A3QDU577Q'],
    // A responder's Deny added beside it: the Allow still names a deleted grantee, which must not be written back.
    [
      'beside a Deny statement added by hand',
      { ...naming('AIDAJQABLZS4A3QDU576Q'), Statement: [...naming('AIDAJQABLZS4A3QDU576Q').Statement, { Effect: 'Deny', Principal: { AWS: '*' }, Action: 'sts:AssumeRole' }] },
      'AIDAJQABLZS4A3QDU576Q',
    ],
    // A Deny that names a deleted principal denies nobody now; the grantee the Allow names is alive.
    ['only in a responder\'s Deny', { ...base, Statement: [...base.Statement, { Effect: 'Deny', Principal: { AWS: 'AIDAJQABLZS4A3QDU576Q' }, Action: 'sts:AssumeRole' }] }, undefined],
    ['no document', undefined, undefined],
  ])('%s', (_what, trust, id) => {
    expect(deletedPrincipalIn(trust)).toBe(id);
  });
});

describe('identity policy', () => {
  it('allows sts:AssumeRole (and carrying a source identity) on exactly the grant role until the end', () => {
    expect(identityPolicy('arn:aws:iam::333333333333:role/rolegate/rg-x', END)).toEqual({
      Version: '2012-10-17',
      Statement: [{ Sid: 'RolegateAssume', Effect: 'Allow', Action: ['sts:AssumeRole', 'sts:SetSourceIdentity'], Resource: 'arn:aws:iam::333333333333:role/rolegate/rg-x', Condition: { DateLessThan: { 'aws:CurrentTime': END } } }],
    });
  });
});

describe('role names', () => {
  const user = (name: string, accountId = '111111111111') => parsePrincipalArn(`arn:aws:iam::${accountId}:user/${name}`);

  it('read rg-<profile>-<principal>-<hash> and are the same on every run and in every release', () => {
    // Pinned: a changed hash input would rename every role, and live grants would lose theirs.
    expect(roleNameFor('EC2Admin', alice)).toBe('rg-EC2Admin-alice-81cecd70');
    expect(roleNameFor('EC2Admin', parsePrincipalArn('arn:aws:iam::111111111111:user/Alice'))).toBe('rg-EC2Admin-alice-81cecd70');
  });

  it('differ for principals that share a name in another account or as another kind', () => {
    const names = new Set([
      roleNameFor('ReadOnly', alice),
      roleNameFor('ReadOnly', user('alice', '444444444444')),
      roleNameFor('ReadOnly', parsePrincipalArn('arn:aws:iam::111111111111:role/alice')),
      roleNameFor('readonly', alice),
    ]);
    expect(names.size).toBe(4);
  });

  it('differ when the trust requires an ExternalId, and for each ExternalId; names without one are unchanged', () => {
    expect(roleNameFor('ReadOnly', billingApp)).toBe('rg-ReadOnly-app-billing-' + createHash('sha256').update(`ReadOnly|${principalKey(billingApp)}`).digest('hex').slice(0, 8));
    const names = new Set([roleNameFor('ReadOnly', billingApp), roleNameFor('ReadOnly', billingApp, 'wl-1'), roleNameFor('ReadOnly', billingApp, 'wl-2')]);
    expect(names.size).toBe(3);
    expect(roleNameFor('ReadOnly', billingApp, 'wl-1')).toBe('rg-ReadOnly-app-billing-2e312f86');
  });

  it('read rg-<profile>-<session name>-<hash> for a personal grant, distinct per session name (case included) and from the whole principal', () => {
    const sso = parsePrincipalArn('arn:aws:iam::111111111111:role/AWSReservedSSO_Dev_0a1b');
    expect(roleNameFor('ReadOnly', sso, undefined, 'Alice@Example.com')).toBe(
      'rg-ReadOnly-alice@example.com-' + createHash('sha256').update(`ReadOnly|${principalKey(sso)}|session|Alice@Example.com`).digest('hex').slice(0, 8),
    );
    const names = new Set([roleNameFor('ReadOnly', sso), roleNameFor('ReadOnly', sso, undefined, 'Alice@Example.com'), roleNameFor('ReadOnly', sso, undefined, 'alice@example.com'), roleNameFor('ReadOnly', sso, undefined, 'bob')]);
    expect(names.size).toBe(4);
  });

  it('are one role for one principal whatever the case of its name, as IAM names are case-insensitive', () => {
    expect(roleNameFor('ReadOnly', parsePrincipalArn('arn:aws:iam::111111111111:role/App-Billing'))).toBe(roleNameFor('ReadOnly', billingApp));
  });

  it('fit path + name in exactly 64 characters when cut, and stay distinct by their hash', () => {
    const a = roleNameFor('EC2Admin', user(`${'a'.repeat(50)}-one`));
    const b = roleNameFor('EC2Admin', user(`${'a'.repeat(50)}-two`));
    expect(a).toHaveLength(MAX_ROLE_NAME);
    expect(`${ROLE_PATH}${a}`).toHaveLength(64);
    expect(a.slice(0, -8)).toBe(b.slice(0, -8));
    expect(a).not.toBe(b);
  });

  it('never end the readable part in a dangling separator when cut', () => {
    // 'rg-ReadOnly-' is 12 characters; a name whose cut falls right after a '-'.
    const name = roleNameFor('ReadOnly', user(`${'b'.repeat(32)}-${'c'.repeat(20)}`));
    expect(name).toMatch(/^rg-ReadOnly-b{32}-[0-9a-f]{8}$/);
  });

  it('keep only characters IAM allows in role names', () => {
    expect(roleNameFor('ReadOnly', user('j.doe+ops=1,x@corp_2'))).toMatch(/^[\w+=,.@-]{1,54}$/);
  });
});

describe('desired role', () => {
  it('carries the profile, the trust, and tags naming what manages it and why', () => {
    const spec = grantSpec({ profile: profile('EC2Admin'), requestIds: ['01A', '01B'] });
    const d = desiredRole(spec);
    expect(d).toEqual({
      roleName: spec.roleName,
      path: '/rolegate/',
      roleArn: `arn:aws:iam::333333333333:role/rolegate/${spec.roleName}`,
      trustPolicy: trustPolicy(spec),
      managedPolicyArns: ['arn:aws:iam::aws:policy/AmazonEC2FullAccess'],
      // EC2Admin has no inline policy of its own: the role's holds only the end of access.
      inlinePolicy: {
        Version: '2012-10-17',
        Statement: [{ Sid: 'RolegateAccessEnds', Effect: 'Deny', Action: '*', Resource: '*', Condition: { DateGreaterThan: { 'aws:CurrentTime': END } } }],
      },
      inlinePolicyName: 'rolegate-profile',
      permissionsBoundaryArn: 'arn:aws:iam::aws:policy/PowerUserAccess',
      maxSessionDuration: 7200,
      description: 'rolegate grant: EC2Admin for arn:aws:iam::111111111111:user/alice',
      tags: [
        { Key: 'managed-by', Value: 'rolegate' },
        // '#' is not allowed in tag values.
        { Key: 'rolegate:grant-key', Value: `333333333333_${spec.roleName}` },
        { Key: 'rolegate:profile', Value: 'EC2Admin' },
        { Key: 'rolegate:principal', Value: 'arn:aws:iam::111111111111:user/alice' },
        { Key: 'rolegate:requests', Value: '01A 01B' },
        { Key: 'rolegate:ends-at', Value: END },
      ],
    });
  });

  it('keeps the newest request ids within the 256-character tag value, counting those left out', () => {
    const ids = Array.from({ length: 20 }, (_, i) => `01JREQUEST${String(i).padStart(16, '0')}`);
    const value = requestsTagValue(ids);
    // "+11 " and nine ids of 26 characters, space-separated, are 246 characters; a tenth would make 273.
    expect(value).toBe(`+11 ${ids.slice(11).join(' ')}`);
    expect(value.length).toBe(246);
  });

  it('writes tag values IAM accepts for principals with commas or long paths', () => {
    const comma = parsePrincipalArn('arn:aws:iam::111111111111:user/doe,john');
    const deep = parsePrincipalArn(`arn:aws:iam::111111111111:user/${'team/'.repeat(60)}carol`);
    const principalTag = (p: typeof comma) => desiredRole(grantSpec({ principal: p })).tags.find((t) => t.Key === 'rolegate:principal')!.Value;
    expect(principalTag(comma)).toBe('arn:aws:iam::111111111111:user/doe_john');
    expect(principalTag(deep)).toBe('arn:aws:iam::111111111111:user/carol');
  });
});

describe('limits, checked before anything is sent', () => {
  /** ExternalId characters count one for one, so they size the trust exactly. */
  const trustOfSize = (chars: number, a = account('production')) => {
    const base = policySize(trustPolicy(grantSpec({ principal: billingApp, externalId: 'x' })));
    return grantSpec({ principal: billingApp, account: a, externalId: 'x'.repeat(chars - base + 1) });
  };

  it('accepts a trust policy of exactly 2,048 characters without whitespace and refuses 2,049', () => {
    expect(policySize(desiredRole(trustOfSize(2048)).trustPolicy)).toBe(2048);
    const error = refusal(() => desiredRole(trustOfSize(2049)));
    expect(error.message).toBe(
      "The trust policy is 2049 characters without whitespace; this account's IAM quota is 2048 (the default: ask AWS to raise it and set the account's trustPolicyMaxChars).",
    );
    expect(error).toMatchObject({ awsCode: undefined, retryable: false, code: 'PROVISIONING_FAILED' });
  });

  it("honours an account's raised trust-policy quota", () => {
    const raised = { ...account('production'), trustPolicyMaxChars: 4096 };
    expect(() => desiredRole(trustOfSize(4096, raised))).not.toThrow();
    expect(refusal(() => desiredRole(trustOfSize(4097, raised))).message).toBe(
      "The trust policy is 4097 characters without whitespace; this account's IAM quota is 4096 (its trustPolicyMaxChars).",
    );
  });

  it('counts characters without whitespace, as IAM does', () => {
    const doc = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::a b/*' }] };
    expect(policySize(doc)).toBe(JSON.stringify(doc, null, 2).replace(/\s/g, '').length);
    expect(policySize(doc)).toBe(JSON.stringify(doc).length - 1);
  });

  it("accepts a role inline policy of 10,240 characters, rolegate's end-of-access statement included, and refuses 10,241", () => {
    const sized = (n: number) => {
      const doc = { Version: '2012-10-17' as const, Statement: [{ Effect: 'Allow' as const, Action: 's3:GetObject', Resource: '' }] };
      const withEnd = policySize(roleInlinePolicy({ profile: { ...profile('S3ReadOnly'), inlinePolicy: doc }, endsAt: END }));
      doc.Statement[0]!.Resource = 'r'.repeat(n - withEnd);
      return grantSpec({ profile: { ...profile('S3ReadOnly'), inlinePolicy: doc } });
    };
    expect(policySize(desiredRole(sized(10_240)).inlinePolicy)).toBe(10_240);
    expect(refusal(() => desiredRole(sized(10_241))).message).toBe(
      "The role's inline policy (the profile's statements and rolegate's end of access) is 10241 characters without whitespace; IAM allows 10240 per role.",
    );
  });

  it("holds a role to its account's managed-policies quota: 10 by default, the raised managedPoliciesPerRoleMax, and 20 for a grant recorded before rolegate kept it", () => {
    const attaching = (n: number, managedPoliciesPerRoleMax?: number) => {
      const spec = grantSpec({ profile: { ...profile('S3ReadOnly'), managedPolicyArns: Array.from({ length: n }, (_, i) => `arn:aws:iam::aws:policy/P${i}`) } });
      // A grant's recorded account settings from before the field existed lack it, whatever the type says.
      const account: Partial<GrantSpec['account']> = { ...spec.account, managedPoliciesPerRoleMax };
      if (managedPoliciesPerRoleMax === undefined) delete account.managedPoliciesPerRoleMax;
      return { ...spec, account } as GrantSpec;
    };
    expect(desiredRole(attaching(10, 10)).managedPolicyArns).toHaveLength(10);
    expect(refusal(() => desiredRole(attaching(11, 10))).message).toBe(
      "The profile attaches 11 managed policies; the account allows 10 per role (IAM's default quota: ask AWS to raise it (up to 20) and set the account's managedPoliciesPerRoleMax).",
    );
    expect(desiredRole(attaching(15, 15)).managedPolicyArns).toHaveLength(15);
    expect(refusal(() => desiredRole(attaching(16, 15))).message).toBe("The profile attaches 16 managed policies; the account allows 15 per role (the account's managedPoliciesPerRoleMax).");
    expect(desiredRole(attaching(20)).managedPolicyArns).toHaveLength(20);
    expect(refusal(() => desiredRole(attaching(21))).message).toBe("The profile attaches 21 managed policies; the account allows 20 per role (IAM's ceiling).");
  });

  // The profile's statements come first, so one under rolegate's Sid would be checked in place of rolegate's own end
  // of access: however well formed (a Deny after a later time), it is refused.
  it.each<[string, Record<string, unknown>]>([
    ['an Allow', { Sid: 'RolegateAccessEnds', Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }],
    ['a second end of access, well formed but later', { Sid: 'RolegateAccessEnds', Effect: 'Deny', Action: '*', Resource: '*', Condition: { DateGreaterThan: { 'aws:CurrentTime': '2099-01-01T00:00:00.000Z' } } }],
  ])("refuses a profile statement that would pass for rolegate's end of access: %s", (_what, statement) => {
    const sid = { Version: '2012-10-17' as const, Statement: [statement] } as NonNullable<GrantSpec['profile']['inlinePolicy']>;
    expect(refusal(() => desiredRole(grantSpec({ profile: { ...profile('S3ReadOnly'), inlinePolicy: sid } }))).message).toBe(
      "The role's inline policy needs exactly one RolegateAccessEnds statement denying everything after an ISO 8601 time (a profile statement may not use that Sid).",
    );
  });

  it("accepts a MaxSessionDuration of 3,600 to 43,200 seconds, IAM's range, and refuses one outside it or fractional", () => {
    const d = desiredRole(grantSpec());
    for (const seconds of [3600, 43_200]) expect(() => validateDocuments({ ...d, maxSessionDuration: seconds })).not.toThrow();
    for (const seconds of [3599, 43_201, 3600.5]) {
      expect(refusal(() => validateDocuments({ ...d, maxSessionDuration: seconds })).message).toBe(`MaxSessionDuration ${seconds} is outside IAM's 3600–43200 seconds.`);
    }
  });

  it('accepts a 54-character name under /rolegate/ and refuses 55 (path + name over 64)', () => {
    const d = desiredRole(grantSpec());
    expect(() => validateDocuments({ ...d, roleName: 'r'.repeat(54) })).not.toThrow();
    expect(refusal(() => validateDocuments({ ...d, roleName: 'r'.repeat(55) })).message).toBe(
      `Path and role name are 65 characters; console switch-role allows 64 (/rolegate/${'r'.repeat(55)}).`,
    );
  });

  it('refuses a role name with characters IAM does not allow', () => {
    const d = desiredRole(grantSpec());
    expect(refusal(() => validateDocuments({ ...d, roleName: 'bad name' })).message).toMatch(/^The role name "bad name" breaks IAM's naming rules/);
  });

  describe('refuses to trust anything but one user or role', () => {
    const d = desiredRole(grantSpec());
    const trusting = (principal: unknown): DesiredRole => ({ ...d, trustPolicy: { ...d.trustPolicy, Statement: [{ ...d.trustPolicy.Statement[0], Principal: principal }] } });

    it.each([
      ['a wildcard', { AWS: '*' }],
      ['a wildcard as the whole principal', '*'],
      ['an account root', { AWS: 'arn:aws:iam::111111111111:root' }],
      ['a bare account id', { AWS: '111111111111' }],
      ['a wildcard inside a user ARN', { AWS: 'arn:aws:iam::111111111111:user/*' }],
      ['one of several principals being a wildcard', { AWS: ['arn:aws:iam::111111111111:user/alice', 'arn:aws:iam::*:user/bob'] }],
    ])('%s', (_, principal) => {
      expect(refusal(() => validateDocuments(trusting(principal))).message).toMatch(/rolegate trusts exactly one IAM user or role, never a wildcard or an account root\.$/);
    });

    it('two users or roles, however valid each is, in one statement or in two', () => {
      expect(refusal(() => validateDocuments(trusting({ AWS: ['arn:aws:iam::111111111111:user/alice', 'arn:aws:iam::111111111111:user/bob'] }))).message).toBe(
        'The trust policy would trust 2 principals; rolegate trusts exactly one IAM user or role.',
      );
      const second = { ...d.trustPolicy.Statement[0], Sid: 'Another', Principal: { AWS: 'arn:aws:iam::111111111111:role/ci-deployer' } };
      expect(refusal(() => validateDocuments({ ...d, trustPolicy: { ...d.trustPolicy, Statement: [d.trustPolicy.Statement[0]!, second] } })).message).toBe(
        'The trust policy has 2 statements; rolegate trusts exactly one IAM user or role, in one statement.',
      );
      // The same ARN in a one-element list is still one principal.
      expect(() => validateDocuments(trusting({ AWS: ['arn:aws:iam::111111111111:user/alice'] }))).not.toThrow();
    });

    it.each([
      ['a wildcard for the session name', '*:*'],
      ['a wildcard inside the session name', '*:alice*'],
      ['a one-character wildcard', '*:alic?'],
      ['no role-id part', 'alice'],
      ['a session name STS would not issue', '*:alice smith'],
      ['a list of names', ['*:alice', '*:bob']],
      ['a one-character name, which STS would not issue', '*:a'],
      ['anything before the wildcard', 'x*:alice'],
    ])('a session pin with %s', (_, pin) => {
      const statement = d.trustPolicy.Statement[0]!;
      const pinned = { ...d, trustPolicy: { ...d.trustPolicy, Statement: [{ ...statement, Condition: { ...(statement.Condition as object), StringLike: { 'aws:userid': pin } } }] } };
      expect(refusal(() => validateDocuments(pinned)).message).toMatch(/^The trust policy would pin aws:userid to ".*"; a personal grant admits exactly one session name/);
    });

    it('a service principal', () => {
      expect(refusal(() => validateDocuments(trusting({ AWS: 'arn:aws:iam::111111111111:user/alice', Service: 'ec2.amazonaws.com' }))).message).toBe(
        'The trust policy would trust Service principals; rolegate trusts exactly one IAM user or role.',
      );
    });
  });

  describe('refuses a trust that allows more than assuming the role, carrying a source identity as it is', () => {
    const d = desiredRole(grantSpec());
    const statement = d.trustPolicy.Statement[0]!;
    const allowing = (Action: unknown, Condition: unknown = statement.Condition): DesiredRole => ({ ...d, trustPolicy: { ...d.trustPolicy, Statement: [{ ...statement, Action, Condition }] } });
    const { StringEqualsIfExists: _pin, ...unpinned } = statement.Condition as Record<string, unknown>;

    it.each([
      ['every STS action', 'sts:*'],
      ['tagging the session', ['sts:AssumeRole', 'sts:TagSession']],
      ['another way in', 'sts:AssumeRoleWithWebIdentity'],
      ['every action', '*'],
      ['no action', []],
      ['a non-string action', [42]],
    ])('%s', (_, action) => {
      expect(refusal(() => validateDocuments(allowing(action))).message).toBe(
        `The trust policy would allow ${JSON.stringify(action)}; rolegate allows only sts:AssumeRole and sts:SetSourceIdentity.`,
      );
    });

    it.each([
      ['no source-identity condition', unpinned],
      ["a source identity of the caller's choosing", { ...unpinned, StringEqualsIfExists: { 'sts:SourceIdentity': '*' } }],
      ['the pin as StringLike', { ...unpinned, StringLike: { 'sts:SourceIdentity': '${aws:SourceIdentity}' } }],
    ])('sts:SetSourceIdentity with %s', (_, condition) => {
      expect(refusal(() => validateDocuments(allowing(['sts:AssumeRole', 'sts:SetSourceIdentity'], condition))).message).toBe(
        'The trust policy allows sts:SetSourceIdentity without the StringEqualsIfExists sts:SourceIdentity "${aws:SourceIdentity}" condition; a grantee could then set any source identity.',
      );
    });

    it('but takes a trust of sts:AssumeRole alone, with or without the pin', () => {
      expect(() => validateDocuments(allowing('sts:AssumeRole', unpinned))).not.toThrow();
      expect(() => validateDocuments(allowing(['sts:AssumeRole']))).not.toThrow();
    });
  });

  it('refuses a trust without its end time, which would never expire in IAM', () => {
    const d = desiredRole(grantSpec());
    const endless = { ...d, trustPolicy: { ...d.trustPolicy, Statement: [{ ...d.trustPolicy.Statement[0], Condition: {} }] } };
    expect(refusal(() => validateDocuments(endless)).message).toMatch(/needs a DateLessThan aws:CurrentTime condition/);
    expect(refusal(() => desiredRole(grantSpec({ endsAt: 'tomorrow' }))).message).toMatch(/needs a DateLessThan aws:CurrentTime condition/);
  });

  it('refuses a tag value IAM would reject', () => {
    const d = desiredRole(grantSpec());
    expect(refusal(() => validateDocuments({ ...d, tags: [...d.tags, { Key: 'note', Value: 'a#b' }] })).message).toMatch(/^The value of tag note holds characters IAM refuses/);
  });

  // IAM User Guide, "IAM and AWS STS quotas": policy documents may hold only tab, LF, CR and U+0020–U+00FF.
  it("refuses a profile's inline policy with characters IAM refuses in policy documents, before any call", () => {
    const withText = (text: string) =>
      grantSpec({ profile: { ...profile('S3ReadOnly'), inlinePolicy: { Version: '2012-10-17', Statement: [{ Effect: 'Deny', Action: 's3:GetObject', Resource: `arn:aws:s3:::${text}/*` }] } } });
    expect(() => desiredRole(withText('café-été'))).not.toThrow();
    expect(refusal(() => desiredRole(withText('reports→2026'))).message).toBe(
      "The profile's inline policy holds \"→\" (U+2192); IAM accepts only tab, line feed, carriage return and U+0020–U+00FF in policy documents.",
    );
    expect(refusal(() => desiredRole(withText('team-\u{1F512}'))).message).toMatch(/holds "\u{1F512}" \(U\+1F512\)/u);
  });
});

describe('samePolicy and parsePolicy (comparing what IAM returns with what rolegate wrote)', () => {
  const trust = { Version: '2012-10-17', Statement: [{ Sid: 'RolegateGrant', Effect: 'Allow', Principal: { AWS: alice.arn }, Action: 'sts:AssumeRole', Condition: { DateLessThan: { 'aws:CurrentTime': END } } }] };

  it('ignores key order and a one-element array IAM returns as its element (or the reverse)', () => {
    const reordered = { Statement: { Condition: { DateLessThan: { 'aws:CurrentTime': END } }, Action: ['sts:AssumeRole'], Principal: { AWS: [alice.arn] }, Effect: 'Allow', Sid: 'RolegateGrant' }, Version: '2012-10-17' };
    expect(samePolicy(reordered, trust)).toBe(true);
    expect(samePolicy(trust, reordered)).toBe(true);
  });

  it('tells apart any change of value: another end, principal, effect, an extra condition or statement', () => {
    const statement = trust.Statement[0]!;
    const variants = [
      { ...trust, Statement: [{ ...statement, Condition: { DateLessThan: { 'aws:CurrentTime': '2099-01-01T00:00:00.000Z' } } }] },
      { ...trust, Statement: [{ ...statement, Principal: { AWS: 'arn:aws:iam::111111111111:root' } }] },
      { ...trust, Statement: [{ ...statement, Effect: 'Deny' }] },
      { ...trust, Statement: [{ ...statement, Condition: { ...statement.Condition, Bool: { 'aws:MultiFactorAuthPresent': 'true' } } }] },
      { ...trust, Statement: [statement, statement] },
      { ...trust, Statement: [{ ...statement, Principal: { AWS: [alice.arn, 'arn:aws:iam::111111111111:user/bob'] } }] },
    ];
    for (const v of variants) expect(samePolicy(v, trust)).toBe(false);
  });

  it('treats arrays of two or more in another order as different (a difference is reported, never hidden)', () => {
    const two = (a: string, b: string) => ({ ...trust, Statement: [{ ...trust.Statement[0]!, Principal: { AWS: [a, b] } }] });
    expect(samePolicy(two(alice.arn, 'arn:aws:iam::111111111111:user/bob'), two('arn:aws:iam::111111111111:user/bob', alice.arn))).toBe(false);
  });

  it('reads a document URL-encoded as IAM returns it, or plain JSON', () => {
    const text = JSON.stringify(trust);
    expect(parsePolicy(encodeURIComponent(text))).toEqual(trust);
    expect(parsePolicy(text)).toEqual(trust);
    // A literal % in a plain document is not an escape: still read as written.
    expect(parsePolicy('{"Sid":"100%"}')).toEqual({ Sid: '100%' });
    expect(parsePolicy(undefined)).toBeUndefined();
  });
});
