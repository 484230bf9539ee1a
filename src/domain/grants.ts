import { GrantBusyError, OutOfTimeError } from './errors';
import type { AccessRequest, Grant } from './model';
import type { GrantLease, GrantSpec, GrantStore, Ids, Logger } from './ports';
import { parsePrincipalArn, samePrincipal, type Principal } from './principal';
import { roleNameFor } from './provisioning/role-name';
import { findAccount, findProfile } from './rules';
import type { AccountSettings, Profile, Settings } from './settings';
import { withLeaseTime } from './time-left';

/** Where a request's access lives: the target account and the role derived from profile and principal. */
export interface GrantTarget extends GrantLocation {
  account: AccountSettings;
  profile: Profile;
}

/**
 * Where a request's access lives, from what the request itself holds: enough
 * to find its grant and end it whatever the configuration says now (the
 * account or the profile may have left it since).
 */
export interface GrantLocation {
  grantKey: string;
  accountId: string;
  profileName: string;
  principal: Principal;
  roleName: string;
  externalId?: string;
  /** A personal grant: the one session name of the principal role its trust admits (AccessRequest.principalSession). */
  session?: string;
  /** A workload grant whose rule left the configuration: the ExternalId its trust demands is not known now. */
  externalIdUnknown?: boolean;
}

/** The grant key is deterministic, so a re-run after a crash always finds the same role; never fails on configuration. */
export function grantLocationFor(settings: Settings, request: AccessRequest): GrantLocation {
  const principal = parsePrincipalArn(request.principalArn);
  const rule = settings.rules.find((r) => r.id === request.ruleId);
  const isWorkload = request.principalArn !== request.requester;
  const externalId = isWorkload ? rule?.workloadExternalId : undefined;
  // A request once provisioned keeps its role, even if the configuration changed since (an ExternalId
  // set or rotated): ending it must remove the role it holds, not one derived afresh.
  const prefix = `${request.accountId}#`;
  const stored = request.grantKey?.startsWith(prefix) ? request.grantKey.slice(prefix.length) : undefined;
  // Only ever the requester's own role (createRequest pins nothing else): a workload grant is never pinned.
  const session = isWorkload ? undefined : request.principalSession;
  const roleName = stored ?? roleNameFor(request.profile, principal, externalId, session);
  return {
    grantKey: `${request.accountId}#${roleName}`,
    accountId: request.accountId,
    profileName: request.profile,
    principal,
    roleName,
    ...(externalId ? { externalId } : {}),
    ...(session !== undefined ? { session } : {}),
    ...(isWorkload && !rule ? { externalIdUnknown: true } : {}),
  };
}

/**
 * Why the grant stored under a request's key is not the request's to join
 * or change, or undefined when it is: another principal or profile. A role
 * name is readable text cut short plus a short hash, so two grants can meet
 * on one key (a principal named to collide); the second must never rewrite
 * the first's role to trust itself, nor, leaving, rewrite it for the first's
 * requests with its own principal. The ExternalId is not compared: a
 * collision needs a name to vary, and a rotated ExternalId must not cut a
 * provisioned request off the role it holds (its stored grant key).
 */
export function grantOfAnother(grant: Grant | undefined, location: GrantLocation): string | undefined {
  if (!grant) return undefined;
  const differs = !samePrincipal(parsePrincipalArn(grant.principalArn), location.principal)
    ? 'principal'
    : grant.profile !== location.profileName
      ? 'profile'
      : grant.terms?.session !== location.session
        ? 'pinned session'
        : undefined;
  if (!differs) return undefined;
  return `Role ${location.roleName} in account ${location.accountId} belongs to another grant (its ${differs} differs from this request's); rolegate will not change it for this request. Tell your rolegate administrators: two grants derived one role name.`;
}

/**
 * A workload grant whose rule left the configuration takes the trust's
 * terms its grant recorded; unchanged otherwise (and while none were
 * recorded, still unknown).
 */
export function withRecordedTerms<T extends GrantLocation>(target: T, grant: Grant | undefined): T {
  if (!target.externalIdUnknown || !grant?.terms) return target;
  // Unknown means the rule is gone, so the location carries no ExternalId of its own.
  const known: T = { ...target };
  delete known.externalIdUnknown;
  return grant.terms.externalId ? { ...known, externalId: grant.terms.externalId } : known;
}

/** The location with the account and profile as configured now (provisioning and comparing need them); unknown → NotFoundError. */
export function grantTargetFor(settings: Settings, request: AccessRequest): GrantTarget {
  const account = findAccount(settings, request.accountId);
  const profile = findProfile(settings, request.profile);
  return { ...grantLocationFor(settings, request), account, profile };
}

/**
 * The settings to reach a grant's account with: as configured now, or, for an
 * account that has left the configuration, as recorded on the grant when its
 * role was last written. Undefined when neither exists (a grant recorded
 * before rolegate kept them).
 */
export function accountForGrant(settings: Settings, accountId: string, grant: Grant | undefined): AccountSettings | undefined {
  return settings.accounts.find((a) => a.id === accountId) ?? (grant?.account?.id === accountId ? grant.account : undefined);
}

/** Members whose access has not ended yet: they keep the grant alive. */
export function liveMembers(members: Record<string, string>, now: string): Record<string, string> {
  return Object.fromEntries(Object.entries(members).filter(([, end]) => end > now));
}

/** The grant's end is the latest end of the requests covering it (later end wins). */
export function grantEnd(members: Record<string, string>): string | undefined {
  return Object.values(members).sort().at(-1);
}

export function specFor(settings: Settings, target: GrantTarget, members: Record<string, string>): GrantSpec {
  const endsAt = grantEnd(members);
  if (!endsAt) throw new Error('a grant spec needs at least one live member');
  return {
    grantKey: target.grantKey,
    account: target.account,
    profile: target.profile,
    principal: target.principal,
    roleName: target.roleName,
    endsAt,
    requestIds: Object.keys(members).sort(),
    partition: settings.partition,
    ...(target.externalId ? { externalId: target.externalId } : {}),
    ...(target.session !== undefined ? { session: target.session } : {}),
  };
}

/** The grant as it will be stored: its members, its role, and the account settings its role was written through. */
export function nextGrant(target: GrantTarget, previous: Grant | undefined, members: Record<string, string>, roleArn: string, now: string, mode: 'aws' | 'dry-run'): Grant {
  return {
    grantKey: target.grantKey,
    accountId: target.account.id,
    roleName: target.roleName,
    principalArn: target.principal.arn,
    profile: target.profile.name,
    members,
    roleArn,
    account: target.account,
    terms: { ...(target.externalId ? { externalId: target.externalId } : {}), ...(target.session !== undefined ? { session: target.session } : {}) },
    // Once in IAM, always: a dry-run write over it changed nothing there.
    mode: previous?.mode === 'aws' ? 'aws' : mode,
    version: (previous?.version ?? 0) + 1,
    updatedAt: now,
  };
}

export interface LeaseOptions {
  grants: GrantStore;
  ids: Ids;
  now: () => Date;
  /** How long a lease lasts if its holder dies (it is released normally). */
  leaseSeconds?: number;
  /** Attempts to take a lease held by someone else before giving up (retryable). */
  attempts?: number;
  /**
   * Waiting for a busy lease goes on only while this says so (the invocation's
   * time left): a function never spends on waiting the time the work needs.
   */
  keepWaiting?: () => boolean;
  sleep?: (ms: number) => Promise<void>;
  logger?: Logger;
}

/**
 * Runs `work` while holding the lease on a grant key, so changes to one
 * grant key never interleave. A lease that stays held by another worker
 * ends in a GrantBusyError (a retryable ProvisioningError).
 */
export async function withGrantLease<T>(options: LeaseOptions, grantKey: string, work: (lease: GrantLease) => Promise<T>): Promise<T> {
  const { grants, ids, now } = options;
  const leaseMs = (options.leaseSeconds ?? 120) * 1000;
  const attempts = options.attempts ?? 40;
  const sleep = options.sleep ?? ((ms: number) => new Promise((r) => setTimeout(r, ms)));
  const owner = ids.next();
  let lease: GrantLease | undefined;
  for (let i = 0; i < attempts && !lease; i++) {
    if (i > 0) {
      if (options.keepWaiting && !options.keepWaiting()) throw new OutOfTimeError(grantKey);
      await sleep(Math.min(25 * 2 ** Math.min(i, 5), 500) * (0.5 + Math.random()));
    }
    const t = now();
    lease = await grants.acquire(grantKey, owner, new Date(t.getTime() + leaseMs).toISOString(), t.toISOString());
  }
  if (!lease) {
    throw new GrantBusyError(`Another change to grant ${grantKey} is in progress; try again shortly (rolegate's worker and sweeper retry on their own).`);
  }
  try {
    // The work's IAM calls must end while the lease is ours: each starts only with time for it left (withRetry).
    const held = lease;
    return await withLeaseTime(() => Date.parse(held.until) - now().getTime(), () => work(held));
  } finally {
    try {
      await grants.release(lease);
    } catch (e) {
      // The work's outcome stands (it may be committed); an unreleased lease lapses on its own.
      options.logger?.warn('could not release a grant lease; it lapses on its own', { grantKey, error: e instanceof Error ? e.message : String(e) });
    }
  }
}
