import { compare } from '../../../src/domain/use-cases/reconcile';
import type { ManagedRoleState } from '../../../src/domain/ports';
import { desiredRole, trustBeforeSourceIdentity, type PolicyDocument } from '../../../src/domain/provisioning/documents';
import { grantSpec, profile } from '../provisioning/fixtures';
import { roleStateOf } from '../../helpers/recording-provisioner';

/** A role state as the provisioner reads it, for a role of a live grant's name. */
const state = (over: Partial<ManagedRoleState>): ManagedRoleState => ({
  roleName: 'rg-ReadOnly-alice-00000000',
  roleArn: 'arn:aws:iam::333333333333:role/rg-ReadOnly-alice-00000000',
  managedByRolegate: false,
  trustPolicy: {},
  attachedPolicyArns: [],
  inlinePolicies: {},
  maxSessionDuration: 3600,
  ...over,
});

describe('comparing a live grant with the role IAM holds', () => {
  // Reported before anything is compared: what the role should hold is not needed.
  const desired = {} as Parameters<typeof compare>[1];

  it('names a role of the grant\'s name outside /rolegate/ as someone else\'s, to delete or rename (not a lost tag)', () => {
    expect(compare(state({ outsidePath: '/' }), desired)).toEqual({
      kind: 'unmanaged-role',
      detail: "a role of this name exists at path /, outside /rolegate/; it is not rolegate's: delete or rename it",
      repairable: false,
    });
  });

  it('says a role under /rolegate/ without the tag lost it', () => {
    expect(compare(state({ roleArn: 'arn:aws:iam::333333333333:role/rolegate/rg-ReadOnly-alice-00000000' }), desired)).toEqual({
      kind: 'unmanaged-role',
      detail: 'the role lost its managed-by=rolegate tag; rolegate will not change it until the tag is restored',
      repairable: false,
    });
  });
});

describe('what is not drift to repair', () => {
  const spec = grantSpec();
  const d = desiredRole(spec);
  const asDesired = (over: Partial<ManagedRoleState> = {}): ManagedRoleState => ({ ...roleStateOf(spec), ...over });

  it('reports a missing role, but never re-creates it (it may have been deleted to contain an incident)', () => {
    expect(compare(undefined, d)).toMatchObject({ kind: 'missing-role', repairable: false });
  });

  it('takes no Deny-only inline policy someone added (a responder\'s "Revoke active sessions") for drift, but any that allows', () => {
    const revokeOlderSessions = { Version: '2012-10-17', Statement: [{ Effect: 'Deny', Action: ['*'], Resource: ['*'], Condition: { DateLessThan: { 'aws:TokenIssueTime': '2026-03-02T09:30:00Z' } } }] };
    expect(compare(asDesired(), d)).toBeUndefined();
    expect(compare(asDesired({ inlinePolicies: { [d.inlinePolicyName]: d.inlinePolicy, AWSRevokeOlderSessions: revokeOlderSessions } }), d)).toBeUndefined();
    const allows = { Version: '2012-10-17', Statement: [revokeOlderSessions.Statement[0], { Effect: 'Allow', Action: 's3:*', Resource: '*' }] };
    expect(compare(asDesired({ inlinePolicies: { [d.inlinePolicyName]: d.inlinePolicy, extra: allows } }), d)).toMatchObject({ kind: 'permissions-changed', repairable: true });
  });
});

describe('a trust written before rolegate allowed source identities', () => {
  // MFA, ExternalId and a session pin: conditions the old shape must keep to pass.
  const spec = grantSpec({ profile: profile('EC2Admin'), externalId: 'ext-1', session: 'alice' });
  const d = desiredRole(spec);
  const holding = (trustPolicy: unknown): ManagedRoleState => ({ ...roleStateOf(spec), trustPolicy });
  const before = trustBeforeSourceIdentity(d.trustPolicy);
  const conditionOf = (p: PolicyDocument) => p.Statement[0]!.Condition as Record<string, unknown>;
  const withCondition = (p: PolicyDocument, Condition: unknown, Action: unknown = p.Statement[0]!.Action) => ({ ...p, Statement: [{ ...p.Statement[0], Action, Condition }] });

  it('is no drift, as it was written (it admits fewer sessions than the desired one)', () => {
    expect(compare(holding(before), d)).toBeUndefined();
  });

  it.each([
    ['without its MFA condition', () => withCondition(before, (({ Bool: _mfa, ...c }) => c)(conditionOf(before)))],
    ['without its ExternalId', () => withCondition(before, (({ StringEquals: _ext, ...c }) => c)(conditionOf(before)))],
    ['without its session pin', () => withCondition(before, (({ StringLike: _pin, ...c }) => c)(conditionOf(before)))],
    ['allowing sts:SetSourceIdentity without the pin', () => withCondition(before, conditionOf(before), ['sts:AssumeRole', 'sts:SetSourceIdentity'])],
    ['pinning the source identity to anything', () => withCondition(d.trustPolicy, { ...conditionOf(d.trustPolicy), StringEqualsIfExists: { 'sts:SourceIdentity': '*' } })],
  ])('is drift to repair %s', (_what, trust) => {
    expect(compare(holding(trust()), d)).toEqual({ kind: 'trust-changed', detail: 'the trust policy differs from the desired one', repairable: true });
  });
});
