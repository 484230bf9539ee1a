import { compare } from '../../../src/domain/use-cases/reconcile';
import type { ManagedRoleState } from '../../../src/domain/ports';

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
