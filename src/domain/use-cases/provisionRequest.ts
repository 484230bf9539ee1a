import { audit } from '../audit';
import { ProvisioningError } from '../errors';
import { grantTargetFor, liveMembers, nextGrant, specFor, withGrantLease, type LeaseOptions } from '../grants';
import type { AccessRequest, FailureInfo } from '../model';
import type { GrantStore, IdentityGranter, Provisioner } from '../ports';
import { accessDetails } from '../provisioning/access-details';
import { isoNow, notifySafely, withOptimisticRetry, type CoreDeps } from './context';

export interface ProvisioningDeps extends CoreDeps {
  grants: GrantStore;
  provisioner: Provisioner;
  /** Present when the configuration asks for identity-account grants. */
  identity?: IdentityGranter;
  lease?: Partial<Pick<LeaseOptions, 'leaseSeconds' | 'attempts' | 'sleep'>>;
  /** Transient failures tolerated before the request is marked FAILED (retryable). */
  maxProvisioningAttempts?: number;
}

export type ProvisionResult = { outcome: 'active' | 'failed' | 'expired' | 'skipped' | 'retry-later'; request?: AccessRequest };

/**
 * Makes an APPROVED request's access real: under the grant's lease, adds the
 * request to the grant (the later end wins), brings the role to the desired
 * state, grants the identity side, then marks the request ACTIVE. Safe to run
 * again at any point: every step converges.
 */
export async function provisionRequest(deps: ProvisioningDeps, requestId: string, known?: AccessRequest): Promise<ProvisionResult> {
  const first = known ?? (await deps.requests.get(requestId));
  // Anything but APPROVED was handled already (a duplicate stream record, a sweep racing the worker).
  if (!first || first.status !== 'APPROVED' || !first.endsAt) return { outcome: 'skipped', ...(first ? { request: first } : {}) };
  const now = isoNow(deps.clock);
  if (first.endsAt <= now) return endBeforeProvisioning(deps, first);

  const target = grantTargetFor(deps.settings, first);
  try {
    return await withGrantLease(leaseOptions(deps), target.grantKey, async (lease) => {
      // Re-read under the lease: a revoke may have ended the request while we waited.
      const request = await deps.requests.get(requestId);
      if (!request || request.status !== 'APPROVED' || !request.endsAt) return { outcome: 'skipped' as const };
      const t = isoNow(deps.clock);
      const members = liveMembers({ ...(lease.grant?.members ?? {}), [request.id]: request.endsAt }, t);
      const spec = specFor(deps.settings, target, members);
      const outcome = await deps.provisioner.apply(spec, request.id);
      const identityCalls =
        deps.identity && deps.settings.provisioner.identityGrants
          ? await deps.identity.grant(target.principal, outcome.roleArn, spec.endsAt, target.grantKey)
          : [];
      await deps.grants.save(lease, nextGrant(target, lease.grant, members, outcome.roleArn, t));

      const access = accessDetails(outcome.roleArn, target.account, target.profile, target.principal, request.endsAt, target.externalId ? { externalId: target.externalId } : undefined);
      const calls = [...outcome.calls, ...identityCalls];
      const active: AccessRequest = {
        ...request,
        version: request.version + 1,
        status: 'ACTIVE',
        updatedAt: t,
        grantKey: target.grantKey,
        access,
        ...(deps.settings.provisioner.mode === 'dry-run' ? { plan: calls } : {}),
      };
      delete active.failure;
      delete active.retryRequested;
      await deps.requests.commit({
        request: active,
        expectedVersion: request.version,
        events: [
          audit.provisioned(request, {
            id: deps.ids.next(),
            at: t,
            actor: 'rolegate',
            data: { roleArn: outcome.roleArn, grantEndsAt: spec.endsAt, sharedWith: spec.requestIds.filter((id) => id !== request.id), calls: calls.map((c) => c.command), dryRun: deps.settings.provisioner.mode === 'dry-run' },
          }),
        ],
      });
      return { outcome: 'active' as const, request: active };
    }).then(async (result) => {
      if (result.outcome === 'active' && result.request) {
        deps.metrics?.count('GrantActivated');
        await notifySafely(deps, 'request.active', result.request, 'rolegate');
      }
      return result;
    });
  } catch (e) {
    if (!(e instanceof ProvisioningError)) throw e;
    return recordProvisioningError(deps, requestId, e);
  }
}

function leaseOptions(deps: ProvisioningDeps): LeaseOptions {
  return { grants: deps.grants, ids: deps.ids, now: () => deps.clock.now(), ...deps.lease };
}

/** The approval came too late to be used: its end passed before provisioning. */
async function endBeforeProvisioning(deps: ProvisioningDeps, request: AccessRequest): Promise<ProvisionResult> {
  const now = isoNow(deps.clock);
  const expired: AccessRequest = { ...request, version: request.version + 1, status: 'EXPIRED', updatedAt: now, endedAt: now };
  await deps.requests.commit({
    request: expired,
    expectedVersion: request.version,
    events: [audit.expired(request, { id: deps.ids.next(), at: now, actor: 'rolegate', comment: 'The access ended before it could be provisioned.' })],
  });
  await notifySafely(deps, 'request.expired', expired, 'rolegate');
  return { outcome: 'expired', request: expired };
}

/**
 * A permanent error marks the request FAILED at once, with the AWS code and a
 * plain reason; a transient one is counted and left for the next attempt
 * until the budget is spent.
 */
async function recordProvisioningError(deps: ProvisioningDeps, requestId: string, error: ProvisioningError): Promise<ProvisionResult> {
  const maxAttempts = deps.maxProvisioningAttempts ?? 5;
  const result = await withOptimisticRetry(async (): Promise<ProvisionResult> => {
    const request = await deps.requests.get(requestId);
    if (!request || request.status !== 'APPROVED') return { outcome: 'skipped' };
    const now = isoNow(deps.clock);
    const attempts = (request.provisioningAttempts ?? 0) + 1;
    if (error.retryable && attempts < maxAttempts) {
      const counted: AccessRequest = { ...request, version: request.version + 1, updatedAt: now, provisioningAttempts: attempts };
      await deps.requests.commit({ request: counted, expectedVersion: request.version, events: [] });
      deps.logger.warn('provisioning failed; it will be retried', { requestId, attempts, awsCode: error.awsCode, reason: error.message });
      return { outcome: 'retry-later', request: counted };
    }
    const failure: FailureInfo = { code: error.awsCode ?? 'ProvisioningFailed', message: error.message, at: now, retryable: error.retryable };
    const failed: AccessRequest = { ...request, version: request.version + 1, status: 'FAILED', updatedAt: now, provisioningAttempts: attempts, failure };
    delete failed.retryRequested;
    await deps.requests.commit({
      request: failed,
      expectedVersion: request.version,
      events: [audit.provisioningFailed(request, { id: deps.ids.next(), at: now, actor: 'rolegate', comment: error.message, data: { awsCode: failure.code, attempts } })],
    });
    deps.logger.error('provisioning failed', { requestId, awsCode: failure.code, reason: error.message });
    return { outcome: 'failed', request: failed };
  });
  if (result.outcome === 'failed' && result.request) {
    deps.metrics?.count('ProvisioningFailed');
    await notifySafely(deps, 'request.failed', result.request, 'rolegate', error.message);
  }
  return result;
}
