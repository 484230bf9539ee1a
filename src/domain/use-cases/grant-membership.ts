import { liveMembers, nextGrant, specFor, type GrantTarget, type LeaseOptions } from '../grants';
import type { PlannedCall } from '../model';
import type { GrantLease, IdentityGranter } from '../ports';
import type { Principal } from '../principal';
import type { ProvisioningDeps } from './provisionRequest';

/** How every use-case takes a grant's lease. */
export function leaseOptions(deps: ProvisioningDeps): LeaseOptions {
  return { grants: deps.grants, ids: deps.ids, now: () => deps.clock.now(), logger: deps.logger, ...deps.lease };
}

/** Paths of roles only AWS may change (IAM Identity Center and service-linked roles): IAM refuses policies put on them. */
const AWS_MANAGED_ROLE_PATHS = ['/aws-reserved/', '/aws-service-role/'];

/**
 * The identity-side granter for a principal, when identity grants are on and
 * the principal lives in the identity account. A principal of another
 * account gets its sts:AssumeRole from that account: rolegate's identity
 * policy would land on an unrelated principal that merely shares its name.
 * A role that only AWS may change (an IAM Identity Center role) gets it
 * from its permission set instead.
 */
export function identityGranterFor(deps: Pick<ProvisioningDeps, 'identity' | 'settings'>, principal: Principal): IdentityGranter | undefined {
  if (!deps.identity || !deps.settings.provisioner.identityGrants) return undefined;
  if (principal.type === 'role' && AWS_MANAGED_ROLE_PATHS.some((path) => principal.path.startsWith(path))) return undefined;
  return principal.accountId === deps.settings.identityAccountId ? deps.identity : undefined;
}

export interface Release {
  calls: PlannedCall[];
  roleDeleted: boolean;
  /** The live requests still covered by the role. */
  remaining: string[];
}

/**
 * Takes one request out of a grant, under the grant's lease, and brings IAM
 * to what the other live requests need: with none left, the role (with its
 * policies), the identity-side policy and the grant item go; otherwise the
 * role's trust and the identity policy end at the remaining end, and the
 * grant is saved without the request. Whether or not the request was ever a
 * member (a crash can leave it in, or leave its role without it), nothing it
 * added outlives it. Every step converges on a re-run.
 */
export async function releaseFromGrant(deps: ProvisioningDeps, lease: GrantLease, target: GrantTarget, requestId: string, now: string): Promise<Release> {
  const others = { ...(lease.grant?.members ?? {}) };
  delete others[requestId];
  const remaining = liveMembers(others, now);
  const identity = identityGranterFor(deps, target.principal);
  if (Object.keys(remaining).length === 0) {
    const calls = await deps.provisioner.remove(target.account, target.roleName, requestId);
    if (identity) calls.push(...(await identity.revoke(target.principal, target.grantKey)));
    if (lease.grant) await deps.grants.remove(lease);
    return { calls, roleDeleted: true, remaining: [] };
  }
  const spec = specFor(deps.settings, target, remaining);
  const outcome = await deps.provisioner.apply(spec, requestId);
  const calls = [...outcome.calls];
  if (identity) calls.push(...(await identity.grant(target.principal, outcome.roleArn, spec.endsAt, target.grantKey)));
  await deps.grants.save(lease, nextGrant(target, lease.grant, remaining, outcome.roleArn, now));
  return { calls, roleDeleted: false, remaining: Object.keys(remaining) };
}
