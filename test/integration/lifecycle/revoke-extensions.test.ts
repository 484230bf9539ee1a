import { createRequest } from '../../../src/domain/use-cases/createRequest';
import { decideRequest } from '../../../src/domain/use-cases/decideRequest';
import { provisionRequest } from '../../../src/domain/use-cases/provisionRequest';
import { endAccess, revokeRequest } from '../../../src/domain/use-cases/endAccess';
import { retryRequest } from '../../../src/domain/use-cases/retryRequest';
import { extendRequest } from '../../../src/domain/use-cases/extendRequest';
import { sweep } from '../../../src/domain/use-cases/sweep';
import { ConflictError, ProvisioningError } from '../../../src/domain/errors';
import { SYSTEM_ACTOR, type AccessRequest } from '../../../src/domain/model';
import type { RequestStore } from '../../../src/domain/ports';
import type { ProvisioningDeps } from '../../../src/domain/use-cases/provisionRequest';
import { harness, type Harness } from '../../helpers/harness';
import { intercept } from '../../helpers/intercept';
import { RecordingProvisioner } from '../../helpers/recording-provisioner';
import { ARN } from '../../helpers/settings';

/*
 * Revoking a request takes away the access its extensions carry on, even
 * when an approval, an auto-approval or a retry of an extension runs at the
 * same moment. Each race is made deterministic by serving one read from
 * before the revocation (what a concurrent process saw) or by approving in
 * the middle of the revocation's own listing.
 */

const api = (arn: string) => ({ arn, via: 'api' as const });

/** The store, except that reads of `id` return `snapshot`: the view of a process that read before a change. */
function staleReadOf(store: RequestStore, id: string, snapshot: AccessRequest): RequestStore {
  return intercept(store, { get: async (x: string) => (x === id ? snapshot : store.get(x)) });
}

describe('revoking a request and its extensions at the same time as they are granted (real DynamoDB)', () => {
  let h: Harness;
  let iam: RecordingProvisioner;
  beforeEach(async () => {
    iam = new RecordingProvisioner();
    h = await harness({ provisioner: iam });
  });
  afterEach(async () => {
    await h.close();
  });

  /** production ReadOnly needs one lead's approval. */
  async function activeProduction(): Promise<AccessRequest> {
    const original = await createRequest(h.deps, api(ARN.alice), { account: 'production', profile: 'ReadOnly', durationMinutes: 60, reason: 'work' });
    await decideRequest(h.deps, api(ARN.leadAnna), { requestId: original.id, decision: 'APPROVE' });
    await provisionRequest(h.deps, original.id);
    return (await h.requests.get(original.id))!;
  }

  /** staging ReadOnly is auto-approved. */
  async function activeStaging(): Promise<AccessRequest> {
    const original = await createRequest(h.deps, api(ARN.alice), { account: 'staging', profile: 'ReadOnly', durationMinutes: 60, reason: 'work' });
    await provisionRequest(h.deps, original.id);
    return (await h.requests.get(original.id))!;
  }

  it('refuses an approval that read the original before its revocation committed, and records nothing', async () => {
    const original = await activeProduction();
    const extension = await extendRequest(h.deps, api(ARN.alice), original.id, { durationMinutes: 60, reason: 'more' });
    await endAccess(h.deps, original.id, 'REVOKED', { arn: ARN.leadBen }, 'incident over');
    const racing: ProvisioningDeps = { ...h.deps, requests: staleReadOf(h.deps.requests, original.id, original) };

    const approving = decideRequest(racing, api(ARN.leadAnna), { requestId: extension.id, decision: 'APPROVE' });

    await expect(approving).rejects.toBeInstanceOf(ConflictError);
    await expect(approving).rejects.toThrow(`Request ${extension.id} extends request ${original.id}, which was revoked; it can no longer be granted.`);
    const detail = (await h.requests.getDetail(extension.id))!;
    expect(detail.request).toMatchObject({ status: 'PENDING', version: extension.version, approvals: [] });
    expect(detail.decisions).toEqual([]);
    expect(detail.events.map((e) => e.action)).toEqual(['REQUESTED']);
  });

  it('refuses an auto-approved extension whose original was revoked after it was read, and creates nothing', async () => {
    const original = await activeStaging();
    await endAccess(h.deps, original.id, 'REVOKED', { arn: ARN.alice }, 'done');
    const racing: ProvisioningDeps = { ...h.deps, requests: staleReadOf(h.deps.requests, original.id, original) };

    const extending = extendRequest(racing, api(ARN.alice), original.id, { durationMinutes: 60, reason: 'more' });

    await expect(extending).rejects.toThrow(`extends request ${original.id}, which was revoked`);
    const mine = await h.requests.list({ requester: ARN.alice, limit: 10 });
    expect(mine.items.map((r) => [r.id, r.status])).toEqual([[original.id, 'REVOKED']]);
    expect(iam.roles.size).toBe(0);
  });

  it('refuses a retry of a failed extension that read the original before its revocation committed', async () => {
    const original = await activeStaging();
    const extension = await extendRequest(h.deps, api(ARN.alice), original.id, { durationMinutes: 60, reason: 'more' });
    iam.failNext = [new ProvisioningError('AccessDenied: no.', 'AccessDenied', false)];
    await provisionRequest(h.deps, extension.id);
    const failed = (await h.requests.get(extension.id))!;
    expect(failed.status).toBe('FAILED');
    await endAccess(h.deps, original.id, 'REVOKED', { arn: ARN.alice }, 'done');
    const racing: ProvisioningDeps = { ...h.deps, requests: staleReadOf(h.deps.requests, original.id, original) };

    await expect(retryRequest(racing, api(ARN.alice), extension.id)).rejects.toThrow(`extends request ${original.id}, which was revoked`);
    expect(await h.requests.get(extension.id)).toMatchObject({ status: 'FAILED', version: failed.version });
  });

  it('revokes an extension approved while the revocation was looking for extensions', async () => {
    const original = await activeProduction();
    const extension = await extendRequest(h.deps, api(ARN.alice), original.id, { durationMinutes: 60, reason: 'more' });
    // Lead Ben approves just after the revocation listed the pending extensions, before it could cancel them.
    let approvedMidway = false;
    const store = h.deps.requests;
    const listing = intercept(store, {
      extensionsOf: async (id: string) => {
        const found = await store.extensionsOf(id);
        if (!approvedMidway) {
          approvedMidway = true;
          await decideRequest(h.deps, api(ARN.leadBen), { requestId: extension.id, decision: 'APPROVE' });
        }
        return found;
      },
    });

    const revoked = await revokeRequest({ ...h.deps, requests: listing }, api(ARN.leadAnna), original.id, 'incident over');

    expect(approvedMidway).toBe(true);
    expect(revoked.status).toBe('REVOKED');
    const detail = (await h.requests.getDetail(extension.id))!;
    expect(detail.request.status).toBe('REVOKED');
    expect(detail.events.map((e) => [e.action, e.actor])).toEqual([
      ['REQUESTED', ARN.alice],
      ['APPROVED', ARN.leadBen],
      ['REVOKED', ARN.leadAnna],
      ['ACCESS_REMOVED', 'rolegate'],
    ]);
    // Provisioning the extension now finds nothing to grant.
    expect((await provisionRequest(h.deps, extension.id)).outcome).toBe('skipped');
    expect(iam.roles.size).toBe(0);
  });

  it('revokes an extension approved since the index listed it as pending, though the index keeps showing it pending', async () => {
    const original = await activeProduction();
    const extension = await extendRequest(h.deps, api(ARN.alice), original.id, { durationMinutes: 60, reason: 'more' });
    await decideRequest(h.deps, api(ARN.leadBen), { requestId: extension.id, decision: 'APPROVE' });
    const store = h.deps.requests;
    let listings = 0;
    const lagging = intercept(store, {
      extensionsOf: async (id: string) => {
        if (id !== original.id) return store.extensionsOf(id);
        listings++;
        return [extension];
      },
    });

    const revoked = await revokeRequest({ ...h.deps, requests: lagging }, api(ARN.leadAnna), original.id, 'incident over');

    expect(revoked.status).toBe('REVOKED');
    expect((await h.requests.get(extension.id))!.status).toBe('REVOKED');
    // Before the commit, then one pass after it that ends nothing: the stale listing is not taken for a new extension.
    expect(listings).toBe(2);
    expect(h.metrics.counts.get('RevocationIncomplete')).toBeUndefined();
  });

  /**
   * An active request with `count` pending extensions that its extensions index shows one more of at each listing,
   * as extensions made faster than a revocation ends them would be.
   */
  async function extensionsShownOneByOne(count: number) {
    const original = await activeProduction();
    const extensions: AccessRequest[] = [];
    // Side by side, as extendRequest makes them only while a lagging extensions index hides the ones before (it refuses
    // a second extension of a request it sees extended): made here as it makes each one.
    for (let i = 0; i < count; i++) {
      extensions.push(await createRequest(h.deps, api(ARN.alice), { account: 'production', profile: 'ReadOnly', durationMinutes: 60, reason: `more ${i}`, extendsRequestId: original.id }));
    }
    const store = h.deps.requests;
    const listed = { shown: 0 };
    const growing = intercept(store, { extensionsOf: async (id: string) => (id === original.id ? extensions.slice(listed.shown, ++listed.shown) : store.extensionsOf(id)) });
    const statuses = () => Promise.all(extensions.map(async (e) => (await h.requests.get(e.id))!.status));
    return { original, listed, statuses, deps: { ...h.deps, requests: growing } };
  }

  it('reports a revocation still ending extensions granted meanwhile after ten passes as incomplete, never as finished; a repeat goes on', async () => {
    const { original, listed, statuses, deps } = await extensionsShownOneByOne(13);

    await expect(revokeRequest(deps, api(ARN.leadAnna), original.id, 'incident')).rejects.toMatchObject({
      code: 'PROVISIONING_FAILED',
      awsCode: 'RevocationIncomplete',
      message: `Request ${original.id} is revoked, but one of its extensions could not be ended, so its access stays: Extensions of it were still being granted after 11 passes. Repeat the revoke to finish it.`,
    });
    expect(h.metrics.counts.get('RevocationIncomplete')).toBe(1);
    expect((await h.requests.get(original.id))!.status).toBe('REVOKED');
    // One before the commit, ten passes after it and one more that still found one.
    expect(listed.shown).toBe(12);

    expect((await revokeRequest(deps, api(ARN.leadAnna), original.id, 'incident')).status).toBe('REVOKED');
    expect(await statuses()).toEqual(Array(13).fill('CANCELLED'));
  });

  it('finishes a revocation whose tenth pass ended the last extension: the pass after it finds none', async () => {
    const { original, statuses, deps } = await extensionsShownOneByOne(11);

    expect((await revokeRequest(deps, api(ARN.leadAnna), original.id, 'incident')).status).toBe('REVOKED');
    expect(h.metrics.counts.get('RevocationIncomplete')).toBeUndefined();
    expect(await statuses()).toEqual(Array(11).fill('CANCELLED'));
  });

  it('reports a revocation whose late extension found its grant busy as incomplete (not "busy, nothing changed"), and a repeat finishes it', async () => {
    const original = await activeProduction();
    const extension = await extendRequest(h.deps, api(ARN.alice), original.id, { durationMinutes: 60, reason: 'more' });
    await decideRequest(h.deps, api(ARN.leadBen), { requestId: extension.id, decision: 'APPROVE' });
    // Once the original is revoked, another change holds the grant's lease for the rest of this revocation.
    const store = h.deps.requests;
    let originalRevoked = false;
    let provisioned = false;
    const listing = intercept(store, {
      // The extension is provisioned once the first look has read the grant, and the looks before the commit
      // miss it in the index: it is granted meanwhile, and found only by the look after the commit.
      extensionsOf: async (id: string) => {
        if (!provisioned) {
          provisioned = true;
          await provisionRequest(h.deps, extension.id);
        }
        return (await store.get(original.id))!.status === 'REVOKED' ? store.extensionsOf(id) : [];
      },
    });
    const grants = intercept(h.deps.grants, {
      acquire: async (...args: Parameters<typeof h.deps.grants.acquire>) => {
        originalRevoked ||= (await store.get(original.id))!.status === 'REVOKED';
        return originalRevoked ? undefined : h.deps.grants.acquire(...args);
      },
    });
    const deps: ProvisioningDeps = { ...h.deps, requests: listing, grants, lease: { ...h.deps.lease, attempts: 2 } };

    const failure = revokeRequest(deps, api(ARN.leadAnna), original.id, 'incident over');

    await expect(failure).rejects.toMatchObject({ code: 'PROVISIONING_FAILED', awsCode: 'RevocationIncomplete', retryable: true });
    await expect(failure).rejects.toThrow(`Request ${original.id} is revoked, but one of its extensions could not be ended yet`);
    expect((await h.requests.get(original.id))!.status).toBe('REVOKED');
    expect((await h.requests.get(extension.id))!.status).toBe('ACTIVE');
    expect(h.metrics.counts.get('RevocationIncomplete')).toBe(1);

    // Repeated once the grant is free: the extension goes, and the repeat answers with the revoked request (it did finish).
    await expect(revokeRequest(h.deps, api(ARN.leadAnna), original.id, 'again')).resolves.toMatchObject({ id: original.id, status: 'REVOKED' });
    expect((await h.requests.get(extension.id))!.status).toBe('REVOKED');
    expect(iam.roles.size).toBe(0);
    // Once nothing is left to finish, a revoke changes nothing: 409, as for any revoked request.
    await expect(revokeRequest(h.deps, api(ARN.leadAnna), original.id)).rejects.toBeInstanceOf(ConflictError);
  });

  it('revokes an extension of an extension granted while the revocation was under way', async () => {
    const original = await activeStaging();
    const first = await extendRequest(h.deps, api(ARN.alice), original.id, { durationMinutes: 60, reason: 'more' });
    await provisionRequest(h.deps, first.id);
    // Alice extends the first extension (auto-approved) after the revocation listed the chain, before it revoked that extension.
    let second: AccessRequest | undefined;
    const store = h.deps.requests;
    const listing = intercept(store, {
      extensionsOf: async (id: string) => {
        const found = await store.extensionsOf(id);
        // Once the walk has looked under the first extension, the last link of the chain.
        if (id === first.id && !second) second = await extendRequest(h.deps, api(ARN.alice), first.id, { durationMinutes: 60, reason: 'and more' });
        return found;
      },
    });

    await revokeRequest({ ...h.deps, requests: listing }, api(ARN.alice), original.id, 'done');

    expect(second).toMatchObject({ status: 'APPROVED', extendsRequestId: first.id });
    expect((await h.requests.get(first.id))!.status).toBe('REVOKED');
    const detail = (await h.requests.getDetail(second!.id))!;
    expect(detail.request.status).toBe('REVOKED');
    expect(detail.events.find((e) => e.action === 'REVOKED')).toMatchObject({ actor: ARN.alice, comment: `Revoked with request ${original.id}, which it extends.` });
    expect((await provisionRequest(h.deps, second!.id)).outcome).toBe('skipped');
    expect(iam.roles.size).toBe(0);
  });

  it('revokes the live extensions of a FAILED original, so no access survives its revocation', async () => {
    // The original is approved and extended before its own provisioning fails.
    const original = await createRequest(h.deps, api(ARN.alice), { account: 'staging', profile: 'ReadOnly', durationMinutes: 60, reason: 'work' });
    const extension = await extendRequest(h.deps, api(ARN.alice), original.id, { durationMinutes: 60, reason: 'more' });
    await provisionRequest(h.deps, extension.id);
    iam.failNext = [new ProvisioningError('AccessDenied: no.', 'AccessDenied', false)];
    await provisionRequest(h.deps, original.id);
    expect((await h.requests.get(original.id))!.status).toBe('FAILED');
    expect((await h.requests.get(extension.id))!.status).toBe('ACTIVE');
    expect(iam.roles.size).toBe(1);

    await revokeRequest(h.deps, api(ARN.alice), original.id, 'not needed after all');

    expect((await h.requests.get(original.id))!.status).toBe('REVOKED');
    expect((await h.requests.get(extension.id))!.status).toBe('REVOKED');
    expect(iam.roles.size).toBe(0);
  });

  it('revokes the extension of an extension that had failed, which an approver could otherwise retry', async () => {
    const original = await activeStaging();
    const first = await extendRequest(h.deps, api(ARN.alice), original.id, { durationMinutes: 60, reason: 'more' });
    iam.failNext = [new ProvisioningError('AccessDenied: no.', 'AccessDenied', false)];
    await provisionRequest(h.deps, first.id);
    expect((await h.requests.get(first.id))!.status).toBe('FAILED');

    await revokeRequest(h.deps, api(ARN.alice), original.id);

    expect((await h.requests.get(first.id))!.status).toBe('REVOKED');
    await expect(retryRequest(h.deps, api(ARN.alice), first.id)).rejects.toThrow(`Only a FAILED request can be retried; request ${first.id} is REVOKED.`);
    expect(iam.roles.size).toBe(0);
  });

  it('a repeated revocation finishes the extensions a cut-short one left live and says so; with nothing left it is a 409', async () => {
    const original = await activeStaging();
    const extension = await extendRequest(h.deps, api(ARN.alice), original.id, { durationMinutes: 60, reason: 'more' });
    await provisionRequest(h.deps, extension.id);
    // A revocation that ended the original and then stopped (a crash).
    await endAccess(h.deps, original.id, 'REVOKED', { arn: ARN.alice }, 'done');
    expect((await h.requests.get(extension.id))!.status).toBe('ACTIVE');

    await expect(revokeRequest(h.deps, api(ARN.alice), original.id)).resolves.toMatchObject({ id: original.id, status: 'REVOKED' });

    expect((await h.requests.get(extension.id))!.status).toBe('REVOKED');
    expect(iam.roles.size).toBe(0);
    await expect(revokeRequest(h.deps, api(ARN.alice), original.id)).rejects.toThrow('Cannot revoke it: the request is REVOKED.');
  });

  it('does not touch the extensions of an original that cannot be revoked (EXPIRED)', async () => {
    const original = await activeStaging();
    const extension = await extendRequest(h.deps, api(ARN.alice), original.id, { durationMinutes: 60, reason: 'more' });
    await provisionRequest(h.deps, extension.id);
    await endAccess(h.deps, original.id, 'EXPIRED', SYSTEM_ACTOR);

    await expect(revokeRequest(h.deps, api(ARN.alice), original.id)).rejects.toThrow('Cannot revoke it: the request is EXPIRED.');

    expect((await h.requests.get(extension.id))!.status).toBe('ACTIVE');
    expect(iam.roles.size).toBe(1);
  });

  it('answers a revocation the sweeper overtook with the request as it ended, not a 409, once it has revoked an extension', async () => {
    const original = await activeStaging();
    h.clock.advance(30 * 60_000);
    const extension = await extendRequest(h.deps, api(ARN.alice), original.id, { durationMinutes: 60, reason: 'more' });
    await provisionRequest(h.deps, extension.id);
    // Right after the extension is revoked, the original reaches its end and the sweeper expires it.
    const real = h.requests;
    let armed = true;
    h.deps.requests = intercept(real, {
      commit: async (w) => {
        await real.commit(w);
        if (armed && w.request.id === extension.id && w.request.status === 'REVOKED') {
          armed = false;
          h.clock.set('2026-03-02T10:00:01.000Z');
          await sweep({ ...h.deps, requests: real });
        }
      },
    });

    await expect(revokeRequest(h.deps, api(ARN.alice), original.id)).resolves.toMatchObject({ id: original.id, status: 'EXPIRED' });

    expect((await real.get(extension.id))!.status).toBe('REVOKED');
    expect(iam.roles.size).toBe(0);
  });

  describe('while the extension index lags (real DynamoDB indexes are eventually consistent)', () => {
    /** The store, except that the extension index shows `id` as it was (`asOf`), or not at all. */
    function laggingIndex(store: RequestStore, id: string, asOf?: AccessRequest): RequestStore {
      return intercept(store, {
        extensionsOf: async (extended: string) => (await store.extensionsOf(extended)).flatMap((r) => (r.id !== id ? [r] : asOf ? [asOf] : [])),
      });
    }

    it('an extension approved just before the revocation, which its listing missed, is revoked by its provisioning, not given a role', async () => {
      const original = await activeProduction();
      const extension = await extendRequest(h.deps, api(ARN.alice), original.id, { durationMinutes: 60, reason: 'more' });
      await decideRequest(h.deps, api(ARN.leadBen), { requestId: extension.id, decision: 'APPROVE' });

      await revokeRequest({ ...h.deps, requests: laggingIndex(h.deps.requests, extension.id) }, api(ARN.leadAnna), original.id, 'incident over');
      expect(await h.requests.get(extension.id)).toMatchObject({ status: 'APPROVED' });
      expect(iam.roles.size).toBe(0);

      const result = await provisionRequest(h.deps, extension.id);

      expect(result.outcome).toBe('revoked');
      expect(iam.roles.size).toBe(0);
      const detail = (await h.requests.getDetail(extension.id))!;
      expect(detail.request).toMatchObject({ status: 'REVOKED', endedAt: h.clock.now().toISOString() });
      expect(detail.events.map((e) => [e.action, e.actor, e.comment])).toEqual([
        ['REQUESTED', ARN.alice, 'more'],
        ['APPROVED', ARN.leadBen, undefined],
        ['REVOKED', 'rolegate', `Revoked with request ${original.id}, which it extends: approved just before that revocation, it ends before being provisioned.`],
        ['ACCESS_REMOVED', 'rolegate', undefined],
      ]);
      expect(h.notifier.sent.filter((n) => n.request.id === extension.id).map((n) => n.kind)).toContain('request.revoked');
    });

    it('an IAM failure while such an extension is revoked by its provisioning is an error the sweeper counts, not a busy grant, and the next sweep revokes it', async () => {
      const original = await activeProduction();
      const extension = await extendRequest(h.deps, api(ARN.alice), original.id, { durationMinutes: 60, reason: 'more' });
      await decideRequest(h.deps, api(ARN.leadBen), { requestId: extension.id, decision: 'APPROVE' });
      await revokeRequest({ ...h.deps, requests: laggingIndex(h.deps.requests, extension.id) }, api(ARN.leadAnna), original.id, 'incident over');
      const throttled = () => new ProvisioningError('Rate exceeded', 'Throttling', true);

      // Provisioning's caller gets the error, not a busy grant (the worker leaves it to the sweeper: worker-time-budget.test.ts).
      iam.failNext.push(throttled());
      await expect(provisionRequest(h.deps, extension.id)).rejects.toMatchObject({ awsCode: 'Throttling' });
      expect(h.logger.lines.map((l) => l.message)).not.toContain('another change to the grant is in progress; provisioning will be retried');

      // The sweeper's: counted and audited as a failed attempt, the request still APPROVED.
      iam.failNext.push(throttled());
      h.clock.advance(121_000);
      await sweep(h.deps);
      const counted = (await h.requests.getDetail(extension.id))!;
      expect(counted.request).toMatchObject({ status: 'APPROVED', provisioningAttempts: 1 });
      expect(counted.events.at(-1)).toMatchObject({ action: 'PROVISIONING_ATTEMPT_FAILED', data: { awsCode: 'UnexpectedError', attempts: 1 } });

      h.clock.advance(121_000);
      await sweep(h.deps);
      expect((await h.requests.get(extension.id))!.status).toBe('REVOKED');
      expect(iam.roles.size).toBe(0);
    });

    it('an extension of an extension is revoked by its provisioning when the first link was revoked with the original', async () => {
      const original = await activeProduction();
      const first = await extendRequest(h.deps, api(ARN.alice), original.id, { durationMinutes: 60, reason: 'more' });
      await decideRequest(h.deps, api(ARN.leadBen), { requestId: first.id, decision: 'APPROVE' });
      await provisionRequest(h.deps, first.id);
      const second = await extendRequest(h.deps, api(ARN.alice), first.id, { durationMinutes: 60, reason: 'even more' });
      await decideRequest(h.deps, api(ARN.leadBen), { requestId: second.id, decision: 'APPROVE' });

      await revokeRequest({ ...h.deps, requests: laggingIndex(h.deps.requests, second.id) }, api(ARN.leadAnna), original.id, 'incident over');
      expect((await h.requests.get(first.id))!.status).toBe('REVOKED');

      expect((await provisionRequest(h.deps, second.id)).outcome).toBe('revoked');
      expect((await h.requests.get(second.id))!.status).toBe('REVOKED');
      expect(iam.roles.size).toBe(0);
    });

    it.each([
      ['still shows it PENDING', true],
      ['does not show it yet', false],
    ])('a provisioned extension the index %s is found in the grant and revoked with the original', async (_what, showPending) => {
      const original = await activeProduction();
      const extension = await extendRequest(h.deps, api(ARN.alice), original.id, { durationMinutes: 60, reason: 'more' });
      await decideRequest(h.deps, api(ARN.leadBen), { requestId: extension.id, decision: 'APPROVE' });
      await provisionRequest(h.deps, extension.id);
      expect((await h.requests.get(extension.id))!.status).toBe('ACTIVE');

      await revokeRequest({ ...h.deps, requests: laggingIndex(h.deps.requests, extension.id, showPending ? extension : undefined) }, api(ARN.leadAnna), original.id, 'incident over');

      const detail = (await h.requests.getDetail(extension.id))!;
      expect(detail.request.status).toBe('REVOKED');
      expect(detail.events.map((e) => [e.action, e.actor])).toEqual([
        ['REQUESTED', ARN.alice],
        ['APPROVED', ARN.leadBen],
        ['PROVISIONED', 'rolegate'],
        ['REVOKED', ARN.leadAnna],
        ['ACCESS_REMOVED', 'rolegate'],
      ]);
      expect(iam.roles.size).toBe(0);
      expect(await h.grants.get((await h.requests.get(original.id))!.grantKey!)).toBeUndefined();
    });
  });
});
