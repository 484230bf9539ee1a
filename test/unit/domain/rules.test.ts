import { ForbiddenError, NotFoundError, ValidationError } from '../../../src/domain/errors';
import type { AccessRequest } from '../../../src/domain/model';
import { parsePrincipalArn } from '../../../src/domain/principal';
import { assertMayDecide, catalogFor, checkDuration, findAccount, personalPin, resolveGrantee, ruleById, ruleFor, shadowedRules } from '../../../src/domain/rules';
import { ARN, exampleSettings, settingsWith } from '../../helpers/settings';

const settings = exampleSettings();
const alice = parsePrincipalArn(ARN.alice);

function pendingFor(requester: string, principal = requester): AccessRequest {
  return {
    id: '01J00000000000000000000000', version: 1, status: 'PENDING', requester, principalArn: principal, accountId: '333333333333',
    accountAlias: 'production', profile: 'EC2Admin', ruleId: 'admin-two-approvals', durationMinutes: 60, reason: 'x',
    approvalsRequired: 2, approvals: [], createdAt: '2026-01-01T00:00:00.000Z', updatedAt: '2026-01-01T00:00:00.000Z',
    decisionDeadline: '2026-01-01T01:00:00.000Z',
  };
}

describe('access rules', () => {
  it('finds accounts by id or alias and names the unknown one', () => {
    expect(findAccount(settings, 'production').id).toBe('333333333333');
    expect(findAccount(settings, '222222222222').alias).toBe('staging');
    expect(() => findAccount(settings, '999999999999')).toThrow(new NotFoundError('Account 999999999999 is not managed by rolegate.'));
  });

  it('picks the first rule covering caller, account and profile', () => {
    const prod = findAccount(settings, 'production');
    expect(ruleFor(settings, alice, prod, 'ReadOnly').id).toBe('production-read');
    expect(ruleFor(settings, alice, prod, 'EC2Admin').id).toBe('admin-two-approvals');
  });

  it('lets no later rule govern a caller that an earlier covering rule names only in another case: refused, and offered nothing', () => {
    // The strict rule's pattern has a typo in its case; the loose one after it would auto-approve anyone.
    const typo = settingsWith((doc) => {
      (doc.rules as unknown[]).unshift(
        { id: 'contractors', requesters: ['arn:aws:iam::111111111111:user/contractor-*'], accounts: ['production'], profiles: ['ReadOnly'], maxDurationMinutes: 60, approvers: [ARN.leadAnna] },
      );
      (doc.rules as unknown[]).push({ id: 'anyone-staging', requesters: ['arn:aws:iam::111111111111:user/*'], accounts: ['*'], profiles: ['ReadOnly'], maxDurationMinutes: 480, autoApprove: true });
    });
    const bob = parsePrincipalArn('arn:aws:iam::111111111111:user/Contractor-bob');
    const prod = findAccount(typo, 'production');
    expect(() => ruleFor(typo, bob, prod, 'ReadOnly')).toThrow(
      new ForbiddenError(
        'Rule "contractors" names arn:aws:iam::111111111111:user/Contractor-bob as a requester only in another case. ARN patterns match case-sensitively, as IAM\'s do, and a later rule does not govern in its place: an administrator must write the pattern in the case IAM shows.',
      ),
    );
    expect(catalogFor(typo, bob).filter((e) => e.accountAlias === 'production' && e.profile === 'ReadOnly')).toEqual([]);
    // Where no earlier rule names it in any case, the later rule governs as before.
    expect(ruleFor(typo, bob, findAccount(typo, 'staging'), 'ReadOnly').id).not.toBe('contractors');
  });

  it('refuses a caller no rule names as a requester', () => {
    const outsider = parsePrincipalArn('arn:aws:iam::999999999999:user/mallory');
    expect(() => ruleFor(settings, outsider, findAccount(settings, 'staging'), 'ReadOnly')).toThrow(ForbiddenError);
  });

  it('grants the caller unless the rule lets them name a workload role', () => {
    const rule = ruleById(settings, 'production-read');
    expect(resolveGrantee(rule, alice, undefined).arn).toBe(ARN.alice);
    expect(resolveGrantee(rule, alice, ARN.appRole).arn).toBe(ARN.appRole);
    expect(() => resolveGrantee(rule, alice, ARN.otherRole)).toThrow(ForbiddenError);
    expect(() => resolveGrantee(rule, alice, 'arn:aws:iam::111111111111:root')).toThrow(ValidationError);
    expect(() => resolveGrantee(ruleById(settings, 'admin-two-approvals'), alice, ARN.appRole)).toThrow(ForbiddenError);
  });

  it('bounds the duration between the minimum and the rule maximum', () => {
    const rule = ruleById(settings, 'production-read');
    expect(() => checkDuration(settings, rule, 14)).toThrow(ValidationError);
    expect(() => checkDuration(settings, rule, 15)).not.toThrow();
    expect(() => checkDuration(settings, rule, 240)).not.toThrow();
    expect(() => checkDuration(settings, rule, 241)).toThrow(ForbiddenError);
  });

  it('refuses self-approval through case and path variants of the requester ARN', () => {
    const rule = ruleById(settings, 'admin-two-approvals');
    const request = pendingFor(ARN.leadAnna);
    for (const variant of [ARN.leadAnna, 'arn:aws:iam::111111111111:user/LEAD-ANNA', 'arn:aws:iam::111111111111:user/x/lead-anna']) {
      expect(() => assertMayDecide(rule, request, parsePrincipalArn(variant))).toThrow(new ForbiddenError('Nobody may decide on their own request.'));
    }
    expect(() => assertMayDecide(rule, request, parsePrincipalArn(ARN.leadBen))).not.toThrow();
    expect(() => assertMayDecide(rule, request, parsePrincipalArn(ARN.bob))).toThrow(ForbiddenError);
  });

  it('refuses a workload role approving the request made for it', () => {
    const rule = { ...ruleById(settings, 'admin-two-approvals'), approvers: ['arn:aws:iam::111111111111:role/app-*'] };
    expect(() => assertMayDecide(rule, pendingFor(ARN.alice, ARN.appRole), parsePrincipalArn(ARN.appRole))).toThrow(ForbiddenError);
  });

  it('lists the catalog of what a caller may request with approvers and limits', () => {
    const entries = catalogFor(settings, alice);
    expect(entries).toHaveLength(2 + 2 + 2);
    expect(entries.find((e) => e.accountAlias === 'staging' && e.profile === 'ReadOnly')).toMatchObject({ autoApprove: true, approvalsRequired: 0, approvers: [], maxDurationMinutes: 480 });
    expect(entries.find((e) => e.accountAlias === 'production' && e.profile === 'EC2Admin')).toMatchObject({ approvalsRequired: 2, maxDurationMinutes: 120, requireMfa: true });
    expect(catalogFor(settings, parsePrincipalArn('arn:aws:iam::999999999999:user/x'))).toEqual([]);
  });

  it('says MFA is required only of a user: a role caller (Identity Center) cannot present it to the trust policy', () => {
    const sso = parsePrincipalArn('arn:aws:iam::111111111111:role/AWSReservedSSO_Dev_0a1b');
    const s = settingsWith((doc: Record<string, any>) => {
      doc.rules.find((r: Record<string, any>) => r.id === 'admin-two-approvals').requesters.push(sso.arn);
    });
    expect(catalogFor(s, sso).find((e) => e.profile === 'EC2Admin')).toMatchObject({ requireMfa: false });
    expect(catalogFor(s, alice).find((e) => e.profile === 'EC2Admin')).toMatchObject({ requireMfa: true });
  });
});

describe('rules that can never govern a request (validate-config warns of them)', () => {
  type RuleDoc = Record<string, unknown>;
  const withRules = (edit: (rules: RuleDoc[]) => RuleDoc[]) => settingsWith((doc) => (doc.rules = edit(doc.rules as RuleDoc[])));
  const lead = { id: 'lead-prod-admin', requesters: ['arn:aws:iam::111111111111:user/lead-*'], accounts: ['production'], profiles: ['EC2Admin'], maxDurationMinutes: 60, autoApprove: true };

  it('finds none in the example', () => {
    expect(shadowedRules(settings)).toEqual([]);
  });

  it('names a narrower rule placed after a broader one that takes all it covers, and the rule that does', () => {
    // admin-two-approvals (every user, every account, EC2Admin) comes first: the leads' own rule never applies.
    expect(shadowedRules(withRules((rules) => [...rules, lead]))).toEqual([{ rule: 'lead-prod-admin', by: ['admin-two-approvals'] }]);
    // Placed first, it governs the leads' requests and shadows nothing.
    expect(shadowedRules(withRules((rules) => [lead, ...rules]))).toEqual([]);
  });

  it('counts a rule shadowed only when every account and profile it covers is taken, by one earlier rule or several', () => {
    const readEverywhere = { ...lead, id: 'read-everywhere', requesters: ['arn:aws:iam::111111111111:user/*'], accounts: ['*'], profiles: ['ReadOnly', 'S3ReadOnly'] };
    // staging-self-service and production-read together take both accounts.
    expect(shadowedRules(withRules((rules) => [...rules, readEverywhere]))).toEqual([{ rule: 'read-everywhere', by: ['staging-self-service', 'production-read'] }]);
    // One profile more that no earlier rule covers for users: it governs those.
    expect(shadowedRules(withRules((rules) => [...rules.filter((r) => r.id !== 'admin-two-approvals'), { ...readEverywhere, profiles: ['ReadOnly', 'EC2Admin'] }]))).toEqual([]);
  });

  it('never claims a requester is covered that an earlier pattern does not admit', () => {
    // A role is no user; and "?" stands for one character, so it does not take a later "*".
    expect(shadowedRules(withRules((rules) => [...rules, { ...lead, requesters: ['arn:aws:iam::111111111111:role/lead-*'] }]))).toEqual([]);
    const oneChar = { ...lead, id: 'one-char', requesters: ['arn:aws:iam::111111111111:user/lead-?'] };
    expect(shadowedRules(withRules(() => [oneChar, { ...lead, requesters: ['arn:aws:iam::111111111111:user/lead-*'] }]))).toEqual([]);
    expect(shadowedRules(withRules(() => [oneChar, { ...lead, requesters: ['arn:aws:iam::111111111111:user/lead-a'] }]))).toEqual([{ rule: 'lead-prod-admin', by: ['one-char'] }]);
  });
});

describe('personal grants (provisioner.personalGrants)', () => {
  const on = settingsWith((d) => ((d.provisioner as Record<string, unknown>).personalGrants = true));
  const sso = parsePrincipalArn('arn:aws:iam::111111111111:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Dev_0a1b');

  it('is off unless switched on: nothing is pinned, whoever asks', () => {
    expect(exampleSettings().provisioner.personalGrants).toBe(false);
    expect(personalPin(exampleSettings(), { sessionName: 'alice' }, sso, sso)).toEqual({});
  });

  it("pins the caller's session name for its own role, never a workload's", () => {
    expect(personalPin(on, { sessionName: 'Alice' }, sso, sso)).toEqual({ principalSession: 'Alice' });
    expect(personalPin(on, { sessionName: 'Alice' }, sso, parsePrincipalArn(ARN.appRole))).toEqual({});
  });

  it('refuses an Identity Center role whose sign-in names no session, and grants any other principal whole', () => {
    expect(() => personalPin(on, {}, sso, sso)).toThrow(ForbiddenError);
    expect(personalPin(on, {}, parsePrincipalArn(ARN.alice), parsePrincipalArn(ARN.alice))).toEqual({});
    // Another case of the prefix is not Identity Center's (as callerIdentity reads it): no session to pin, granted whole.
    const lookAlike = parsePrincipalArn('arn:aws:iam::111111111111:role/awsreservedsso_Dev_0a1b');
    expect(personalPin(on, {}, lookAlike, lookAlike)).toEqual({});
  });
});

describe('a refusal of an Identity Center role no rolePaths entry placed', () => {
  it('says where Identity Center roles live, as path-anchored patterns never match one taken to be at /', () => {
    const settings = exampleSettings();
    const unplaced = parsePrincipalArn('arn:aws:iam::111111111111:role/AWSReservedSSO_Dev_0a1b');
    const placed = parsePrincipalArn('arn:aws:iam::111111111111:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Dev_0a1b');
    const production = findAccount(settings, 'production');
    expect(() => ruleFor(settings, unplaced, production, 'ReadOnly')).toThrow(
      `No rule lets ${unplaced.arn} request profile "ReadOnly" in account production (333333333333). Identity Center roles live under /aws-reserved/sso.amazonaws.com/: without a rolePaths entry for this one, rolegate took it to be at /.`,
    );
    expect(() => ruleFor(settings, placed, production, 'ReadOnly')).toThrow(`No rule lets ${placed.arn} request profile "ReadOnly" in account production (333333333333).`);
    expect(() => ruleFor(settings, placed, production, 'ReadOnly')).not.toThrow(/rolePaths/);
  });
});
