import { createRequest } from '../../../src/domain/use-cases/createRequest';
import { decideRequest } from '../../../src/domain/use-cases/decideRequest';
import { provisionRequest } from '../../../src/domain/use-cases/provisionRequest';
import { endAccess, revokeRequest } from '../../../src/domain/use-cases/endAccess';
import { retryRequest } from '../../../src/domain/use-cases/retryRequest';
import { sweep } from '../../../src/domain/use-cases/sweep';
import { extendRequest } from '../../../src/domain/use-cases/extendRequest';
import { ConflictError, ProvisioningError } from '../../../src/domain/errors';
import { SYSTEM_ACTOR, type AccessRequest } from '../../../src/domain/model';
import { grantTargetFor } from '../../../src/domain/grants';
import { harness, type Harness } from '../../helpers/harness';
import { holdLease } from '../../helpers/leases';
import { RecordingIdentityGranter, RecordingProvisioner } from '../../helpers/recording-provisioner';
import { ARN, settingsWith } from '../../helpers/settings';

const api = (arn: string) => ({ arn, via: 'api' as const });

describe('provisioning, overlap, revocation and expiry (real DynamoDB, recorded IAM)', () => {
  let h: Harness;
  let iam: RecordingProvisioner;
  let identity: RecordingIdentityGranter;
  beforeEach(async () => {
    iam = new RecordingProvisioner();
    identity = new RecordingIdentityGranter();
    h = await harness({ provisioner: iam, identity });
  });
  afterEach(async () => {
    await h.close();
  });

  /** Staging ReadOnly is auto-approved: the request is APPROVED on creation. */
  async function approvedStaging(minutes: number, who: string = ARN.alice): Promise<AccessRequest> {
    return createRequest(h.deps, api(who), { account: 'staging', profile: 'ReadOnly', durationMinutes: minutes, reason: 'work' });
  }

  it('makes an approved request ACTIVE with its role, access details and identity-side policy', async () => {
    const request = await approvedStaging(60);
    const result = await provisionRequest(h.deps, request.id);
    expect(result.outcome).toBe('active');
    const active = (await h.requests.get(request.id))!;
    expect(active.status).toBe('ACTIVE');
    expect(active.grantKey).toMatch(/^222222222222#rg-ReadOnly-alice-[0-9a-f]{8}$/);
    expect(active.access).toMatchObject({
      accountId: '222222222222',
      endsAt: '2026-03-02T10:00:00.000Z',
      roleArn: expect.stringMatching(/^arn:aws:iam::222222222222:role\/rolegate\/rg-ReadOnly-alice-[0-9a-f]{8}$/),
    });
    expect(active.access!.switchRoleUrl).toMatch(/^https:\/\/signin\.aws\.amazon\.com\/switchrole\?roleName=rolegate%2Frg-ReadOnly-alice-[0-9a-f]{8}&account=222222222222&displayName=staging-ReadOnly$/);
    expect([...iam.roles.values()].map((s) => [s.principal.arn, s.endsAt, s.requestIds])).toEqual([[ARN.alice, '2026-03-02T10:00:00.000Z', [request.id]]]);
    expect([...identity.policies.values()]).toEqual([{ principal: ARN.alice, roleArn: active.access!.roleArn, endsAt: '2026-03-02T10:00:00.000Z' }]);
    const grant = await h.grants.get(active.grantKey!);
    expect(grant).toMatchObject({ members: { [request.id]: '2026-03-02T10:00:00.000Z' }, principalArn: ARN.alice, version: 1 });
    const events = (await h.requests.getDetail(request.id))!.events.map((e) => e.action);
    expect(events).toEqual(['REQUESTED', 'AUTO_APPROVED', 'PROVISIONED']);
  });

  describe('when the end passes while provisioning waits for the grant\'s lease', () => {
    /** Another change holds the grant; while provisioning waits for it, the clock passes `minutes`. */
    function waitOutlasts(request: AccessRequest, minutes: number) {
      let waited = false;
      h.deps.lease = {
        ...h.deps.lease,
        sleep: async () => {
          if (!waited) h.clock.advance(minutes * 60_000); // the holder's lease lapses meanwhile
          waited = true;
        },
      };
      return holdLease(h, grantTargetFor(h.deps.settings, request).grantKey);
    }

    it('ends the request EXPIRED, granting nothing, when it is the grant\'s only request', async () => {
      const request = await approvedStaging(60);
      await waitOutlasts(request, 61);

      const result = await provisionRequest(h.deps, request.id);

      expect(result.outcome).toBe('expired');
      expect(await h.requests.get(request.id)).toMatchObject({ status: 'EXPIRED', endedAt: '2026-03-02T10:01:00.000Z' });
      expect(iam.roles.size).toBe(0);
      expect(identity.policies.size).toBe(0);
      expect(await h.grants.get(grantTargetFor(h.deps.settings, request).grantKey)).toBeUndefined();
      expect(h.notifier.sent.at(-1)).toMatchObject({ kind: 'request.expired', request: { id: request.id, status: 'EXPIRED' } });
    });

    it('ends it EXPIRED, never ACTIVE with an end gone by, beside a live request on the same role', async () => {
      const longer = await approvedStaging(240);
      await provisionRequest(h.deps, longer.id);
      const request = await approvedStaging(60);
      await waitOutlasts(request, 61);

      const result = await provisionRequest(h.deps, request.id);

      expect(result.outcome).toBe('expired');
      expect((await h.requests.get(request.id))!.status).toBe('EXPIRED');
      expect([...iam.roles.values()].map((s) => [s.endsAt, s.requestIds])).toEqual([['2026-03-02T13:00:00.000Z', [longer.id]]]);
      expect((await h.grants.get(grantTargetFor(h.deps.settings, request).grantKey))!.members).toEqual({ [longer.id]: '2026-03-02T13:00:00.000Z' });
    });

    it('ends it EXPIRED when the wait ends exactly at its end (the end is exclusive, as IAM\'s DateLessThan): no role is written for no time left', async () => {
      const request = await approvedStaging(60);
      await waitOutlasts(request, 60);

      const result = await provisionRequest(h.deps, request.id);

      expect(result.outcome).toBe('expired');
      expect(await h.requests.get(request.id)).toMatchObject({ status: 'EXPIRED', endedAt: '2026-03-02T10:00:00.000Z' });
      expect(iam.roles.size).toBe(0);
      expect(identity.policies.size).toBe(0);
    });
  });

  it('is idempotent: a second run of the worker changes nothing', async () => {
    const request = await approvedStaging(60);
    await provisionRequest(h.deps, request.id);
    const again = await provisionRequest(h.deps, request.id);
    expect(again.outcome).toBe('skipped');
    expect(iam.log).toHaveLength(1);
  });

  it('shares one role between overlapping requests; the later end wins, and ending one keeps the other', async () => {
    const first = await approvedStaging(60);
    await provisionRequest(h.deps, first.id);
    h.clock.advance(10 * 60_000);
    const second = await approvedStaging(120);
    await provisionRequest(h.deps, second.id);

    expect(iam.roles.size).toBe(1);
    const spec = [...iam.roles.values()][0]!;
    expect(spec.endsAt).toBe('2026-03-02T11:10:00.000Z');
    expect(spec.requestIds).toEqual([first.id, second.id].sort());

    // One second before the first ends: nothing is due.
    h.clock.set('2026-03-02T09:59:59.000Z');
    expect((await sweep(h.deps)).expired).toBe(0);
    // One second after: the first expires, the role stays for the second.
    h.clock.set('2026-03-02T10:00:01.000Z');
    const report = await sweep(h.deps);
    expect(report.expired).toBe(1);
    expect((await h.requests.get(first.id))!.status).toBe('EXPIRED');
    expect((await h.requests.get(second.id))!.status).toBe('ACTIVE');
    expect(iam.roles.size).toBe(1);
    expect([...iam.roles.values()][0]!.requestIds).toEqual([second.id]);

    h.clock.set('2026-03-02T11:10:01.000Z');
    await sweep(h.deps);
    expect((await h.requests.get(second.id))!.status).toBe('EXPIRED');
    expect(iam.roles.size).toBe(0);
    expect(identity.policies.size).toBe(0);
    expect(await h.grants.get((await h.requests.get(second.id))!.grantKey!)).toBeUndefined();
    const actions = (await h.requests.getDetail(second.id))!.events.map((e) => e.action);
    expect(actions.slice(-2)).toEqual(['EXPIRED', 'ACCESS_REMOVED']);
  });

  it('revoking one of two overlapping requests keeps the access the other covers, narrowing the trust to its end', async () => {
    const short = await approvedStaging(60);
    const long = await approvedStaging(240);
    await provisionRequest(h.deps, short.id);
    await provisionRequest(h.deps, long.id);
    expect([...iam.roles.values()][0]!.endsAt).toBe('2026-03-02T13:00:00.000Z');

    await revokeRequest(h.deps, api(ARN.alice), long.id, 'done early');
    expect((await h.requests.get(long.id))!.status).toBe('REVOKED');
    expect([...iam.roles.values()][0]!.endsAt).toBe('2026-03-02T10:00:00.000Z');
    await revokeRequest(h.deps, api(ARN.alice), short.id);
    expect(iam.roles.size).toBe(0);
  });

  it('refuses revocation by someone who is neither party nor approver', async () => {
    const request = await approvedStaging(60);
    await provisionRequest(h.deps, request.id);
    await expect(revokeRequest(h.deps, api(ARN.bob), request.id)).rejects.toThrow('Only an approver of its rule, a responder, the requester or the grantee may revoke a request.');
    expect(iam.roles.size).toBe(1);
  });

  it('times out pending requests past their deadline, not before', async () => {
    const pending = await createRequest(h.deps, api(ARN.alice), { account: 'production', profile: 'ReadOnly', durationMinutes: 30, reason: 'x' });
    h.clock.set('2026-03-02T10:59:59.000Z');
    expect((await sweep(h.deps)).timedOut).toBe(0);
    h.clock.set('2026-03-02T11:00:01.000Z');
    expect((await sweep(h.deps)).timedOut).toBe(1);
    expect((await h.requests.get(pending.id))!.status).toBe('TIMED_OUT');
    expect(h.notifier.sent.map((n) => n.kind)).toContain('request.timed_out');
  });

  it('converges after a crash half-way through a revocation', async () => {
    const request = await approvedStaging(60);
    await provisionRequest(h.deps, request.id);
    iam.failNext = [new ProvisioningError('connection reset while deleting the role', 'NetworkingError', true)];
    await expect(revokeRequest(h.deps, api(ARN.alice), request.id)).rejects.toThrow('connection reset');
    expect((await h.requests.get(request.id))!.status).toBe('ACTIVE');

    await revokeRequest(h.deps, api(ARN.alice), request.id);
    expect((await h.requests.get(request.id))!.status).toBe('REVOKED');
    expect(iam.roles.size).toBe(0);
  });

  it('marks a request FAILED with the AWS code on a permanent error, and an approver can retry it', async () => {
    const request = await createRequest(h.deps, api(ARN.alice), { account: 'production', profile: 'ReadOnly', durationMinutes: 30, reason: 'x' });
    await decideRequest(h.deps, api(ARN.leadAnna), { requestId: request.id, decision: 'APPROVE' });
    iam.failNext = [new ProvisioningError('AccessDenied: the provisioner role may not create roles in 333333333333.', 'AccessDenied', false)];
    const result = await provisionRequest(h.deps, request.id);
    expect(result.outcome).toBe('failed');
    const failed = (await h.requests.get(request.id))!;
    expect(failed).toMatchObject({ status: 'FAILED', failure: { code: 'AccessDenied', retryable: false } });
    expect(h.notifier.sent.at(-1)!.kind).toBe('request.failed');

    await retryRequest(h.deps, api(ARN.leadAnna), request.id, 'role quota fixed');
    // Announced: receivers see the request leave FAILED, by whom and why.
    expect(h.notifier.sent.at(-1)).toMatchObject({ kind: 'request.approved', action: 'RETRY_REQUESTED', actor: ARN.leadAnna, comment: 'role quota fixed', request: { id: request.id, status: 'APPROVED' } });
    expect((await provisionRequest(h.deps, request.id)).outcome).toBe('active');
    const events = (await h.requests.getDetail(request.id))!.events.map((e) => e.action);
    expect(events).toEqual(['REQUESTED', 'APPROVED', 'PROVISIONING_FAILED', 'RETRY_REQUESTED', 'PROVISIONED']);
  });

  it('gives a retried request no more than its rule allows now, if the maximum was lowered since the request', async () => {
    const request = await createRequest(h.deps, api(ARN.alice), { account: 'production', profile: 'ReadOnly', durationMinutes: 240, reason: 'x' });
    await decideRequest(h.deps, api(ARN.leadAnna), { requestId: request.id, decision: 'APPROVE' });
    iam.failNext = [new ProvisioningError('AccessDenied: no.', 'AccessDenied', false)];
    await provisionRequest(h.deps, request.id);
    h.deps.settings.rules.find((r) => r.id === 'production-read')!.maxDurationMinutes = 60;
    h.clock.advance(10 * 60_000);

    const retried = await retryRequest(h.deps, api(ARN.leadAnna), request.id);

    expect(retried.endsAt).toBe('2026-03-02T10:10:00.000Z');
    expect(retried.durationMinutes).toBe(240);
  });

  it('never lets requesters retry their own FAILED request where the rule needs an approver, even if they are approvers', async () => {
    // lead-ben may approve production-read requests, but not his own.
    const request = await createRequest(h.deps, api(ARN.leadBen), { account: 'production', profile: 'ReadOnly', durationMinutes: 30, reason: 'x' });
    await decideRequest(h.deps, api(ARN.leadAnna), { requestId: request.id, decision: 'APPROVE' });
    iam.failNext = [new ProvisioningError('AccessDenied: no.', 'AccessDenied', false)];
    expect((await provisionRequest(h.deps, request.id)).outcome).toBe('failed');
    const { retryRequest } = await import('../../../src/domain/use-cases/retryRequest');

    await expect(retryRequest(h.deps, api(ARN.leadBen), request.id)).rejects.toThrow('Nobody may decide on their own request.');
    expect((await h.requests.get(request.id))!.status).toBe('FAILED');
    expect((await retryRequest(h.deps, api(ARN.leadAnna), request.id)).status).toBe('APPROVED');
  });

  it('lets the requester retry a FAILED request under an auto-approving rule, as they could simply ask again', async () => {
    const request = await approvedStaging(60);
    iam.failNext = [new ProvisioningError('AccessDenied: no.', 'AccessDenied', false)];
    expect((await provisionRequest(h.deps, request.id)).outcome).toBe('failed');
    const { retryRequest } = await import('../../../src/domain/use-cases/retryRequest');

    await expect(retryRequest(h.deps, api(ARN.bob), request.id)).rejects.toThrow(`${ARN.bob} may not retry this request: only an approver under its rule (or, under a rule that approves by itself, its requester) may.`);
    expect((await retryRequest(h.deps, api(ARN.alice), request.id)).status).toBe('APPROVED');
  });

  it('counts transient errors and leaves the request APPROVED until the attempt budget is spent', async () => {
    const request = await approvedStaging(60);
    const throttled = () => new ProvisioningError('Rate exceeded', 'Throttling', true);
    iam.failNext = [throttled(), throttled()];
    expect((await provisionRequest(h.deps, request.id)).outcome).toBe('retry-later');
    expect((await provisionRequest(h.deps, request.id)).outcome).toBe('retry-later');
    expect((await h.requests.get(request.id))!).toMatchObject({ status: 'APPROVED', provisioningAttempts: 2 });
    // The sweeper re-drives it once it has been stuck for two minutes.
    h.clock.advance(3 * 60_000);
    expect((await sweep(h.deps)).provisioned).toBe(1);
    expect((await h.requests.get(request.id))!.status).toBe('ACTIVE');
  });

  it('serialises 20 concurrent grants on one grant key without losing a member or an end time', async () => {
    const requests: AccessRequest[] = [];
    for (let i = 0; i < 20; i++) requests.push(await approvedStaging(30 + i * 10));
    const results = await Promise.all(requests.map((r) => provisionRequest(h.deps, r.id)));
    expect(results.map((r) => r.outcome)).toEqual(Array(20).fill('active'));
    const grant = (await h.grants.get(results[0]!.request!.grantKey!))!;
    expect(Object.keys(grant.members).sort()).toEqual(requests.map((r) => r.id).sort());
    expect(grant.version).toBe(20);
    // The role's end is the latest of the 20 (30 + 19 × 10 minutes).
    const spec = [...iam.roles.values()][0]!;
    expect(spec.endsAt).toBe('2026-03-02T12:40:00.000Z');
  });

  it('two sweeps at once expire each due request exactly once, without failing the batch', async () => {
    const requests: AccessRequest[] = [];
    for (const who of [ARN.alice, ARN.bob, ARN.leadAnna]) requests.push(await approvedStaging(60, who));
    for (const r of requests) await provisionRequest(h.deps, r.id);
    h.clock.set('2026-03-02T10:00:01.000Z');
    const [a, b] = await Promise.all([sweep(h.deps), sweep(h.deps)]);
    expect(a.expired + b.expired).toBe(3);
    expect([...a.errors, ...b.errors]).toEqual([]);
    for (const r of requests) {
      const detail = (await h.requests.getDetail(r.id))!;
      expect(detail.request.status).toBe('EXPIRED');
      expect(detail.events.filter((e) => e.action === 'EXPIRED')).toHaveLength(1);
    }
    expect(iam.roles.size).toBe(0);
  });

  it('a sweep that read a request before another sweep ended it does not remove it over again: it reads it afresh, under the lease', async () => {
    const r = await approvedStaging(60);
    await provisionRequest(h.deps, r.id);
    h.clock.set('2026-03-02T10:00:01.000Z');
    const asListed = (await h.requests.get(r.id))!;
    await endAccess(h.deps, r.id, 'EXPIRED', SYSTEM_ACTOR, undefined, asListed);
    const removals = iam.log.filter((l) => l.startsWith('remove')).length;

    // The second sweep's copy, listed before the first ended it.
    const again = await endAccess(h.deps, r.id, 'EXPIRED', SYSTEM_ACTOR, undefined, asListed);

    expect(again).toMatchObject({ status: 'EXPIRED', version: asListed.version + 1 });
    expect(iam.log.filter((l) => l.startsWith('remove'))).toHaveLength(removals);
    expect((await h.requests.getDetail(r.id))!.events.filter((e) => e.action === 'EXPIRED' || e.action === 'ACCESS_REMOVED')).toHaveLength(2);
  });

  it('never lets extensions reach further than the rule\'s maximum from now, however they are chained (auto-approved)', async () => {
    // staging-self-service: auto-approved, at most 480 minutes.
    const original = await approvedStaging(480);
    await provisionRequest(h.deps, original.id);
    expect(original.endsAt).toBe('2026-03-02T17:00:00.000Z');
    const refusal = `Request ${original.id} already gives access until 2026-03-02T17:00:00.000Z, and rule "staging-self-service" allows access at most 480 minutes ahead: an extension approved now would add less than 15 minutes. Extend it from 2026-03-02T09:15:00.000Z.`;
    await expect(extendRequest(h.deps, api(ARN.alice), original.id, { durationMinutes: 480, reason: 'more' })).rejects.toThrow(refusal);
    // Seconds later it would add seconds, yet be approved and provisioned as a whole request: refused alike, until it can add 15 minutes.
    h.clock.advance(3_000);
    await expect(extendRequest(h.deps, api(ARN.alice), original.id, { durationMinutes: 480, reason: 'more' })).rejects.toThrow(refusal);
    h.clock.set('2026-03-02T09:14:59.999Z');
    await expect(extendRequest(h.deps, api(ARN.alice), original.id, { durationMinutes: 480, reason: 'more' })).rejects.toMatchObject({
      details: [{ field: 'durationMinutes', reason: "access already runs more than 465 of the rule's 480 minutes ahead" }],
    });
    h.clock.set('2026-03-02T09:15:00.000Z');
    const shortest = await extendRequest(h.deps, api(ARN.alice), original.id, { durationMinutes: 480, reason: 'more' });
    expect(shortest.endsAt).toBe('2026-03-02T17:15:00.000Z');
    await revokeRequest(h.deps, api(ARN.alice), shortest.id, 'not needed');
    expect([...iam.roles.values()][0]!.endsAt).toBe('2026-03-02T17:00:00.000Z');

    h.clock.set('2026-03-02T10:00:00.000Z');
    const extension = await extendRequest(h.deps, api(ARN.alice), original.id, { durationMinutes: 480, reason: 'more' });
    await provisionRequest(h.deps, extension.id);
    // 17:00 + 480 minutes would be 01:00 tomorrow; the rule allows 480 minutes from 10:00.
    expect(extension.endsAt).toBe('2026-03-02T18:00:00.000Z');
    await expect(extendRequest(h.deps, api(ARN.alice), extension.id, { durationMinutes: 480, reason: 'and more' })).rejects.toBeInstanceOf(ConflictError);
    expect([...iam.roles.values()][0]!.endsAt).toBe('2026-03-02T18:00:00.000Z');
  });

  it('measures what an extension must add by the configured minimum, and says when a rule leaves no room for any', async () => {
    h.deps.settings = settingsWith((doc) => {
      doc.minDurationMinutes = 30;
      const rule = (doc.rules as { id: string; maxDurationMinutes: number }[]).find((r) => r.id === 'staging-self-service')!;
      rule.maxDurationMinutes = 120;
    });
    const original = await approvedStaging(120);
    await provisionRequest(h.deps, original.id);
    // 09:00 + 120 = 11:00; approved before 09:30 an extension would add less than 30 minutes.
    h.clock.set('2026-03-02T09:29:59.999Z');
    await expect(extendRequest(h.deps, api(ARN.alice), original.id, { durationMinutes: 60, reason: 'more' })).rejects.toThrow(/would add less than 30 minutes\. Extend it from 2026-03-02T09:30:00\.000Z\.$/);
    h.clock.set('2026-03-02T09:30:00.000Z');
    expect((await extendRequest(h.deps, api(ARN.alice), original.id, { durationMinutes: 60, reason: 'more' })).endsAt).toBe('2026-03-02T11:30:00.000Z');

    // A rule whose maximum is the minimum leaves no room, whenever it is asked: said so, not "extend it from" its end.
    h.deps.settings = settingsWith((doc) => {
      doc.minDurationMinutes = 30;
      (doc.rules as { id: string; maxDurationMinutes: number }[]).find((r) => r.id === 'staging-self-service')!.maxDurationMinutes = 30;
    });
    h.clock.set('2026-03-02T10:50:00.000Z');
    const short = await approvedStaging(30, ARN.bob);
    await provisionRequest(h.deps, short.id);
    await expect(extendRequest(h.deps, api(ARN.bob), short.id, { durationMinutes: 30, reason: 'more' })).rejects.toMatchObject({
      message: `Rule "staging-self-service" allows at most 30 minutes, the shortest access anyone may ask for: an extension could never add time. Ask for new access once request ${short.id} ends.`,
      details: [{ field: 'durationMinutes', reason: "rule's maximum equals minDurationMinutes (30)" }],
    });
  });

  it('ends an approved extension no later than the rule\'s maximum from its approval', async () => {
    // production-read: one lead approves, at most 240 minutes.
    const original = await createRequest(h.deps, api(ARN.alice), { account: 'production', profile: 'ReadOnly', durationMinutes: 240, reason: 'work' });
    await decideRequest(h.deps, api(ARN.leadAnna), { requestId: original.id, decision: 'APPROVE' });
    await provisionRequest(h.deps, original.id);
    h.clock.advance(180 * 60_000);
    const extension = await extendRequest(h.deps, api(ARN.alice), original.id, { durationMinutes: 240, reason: 'still at it' });
    h.clock.advance(30 * 60_000);

    const approved = await decideRequest(h.deps, api(ARN.leadAnna), { requestId: extension.id, decision: 'APPROVE' });

    // Without the cap: 13:00 + 240 minutes = 17:00. Approved at 12:30: at most 16:30.
    expect(approved.endsAt).toBe('2026-03-02T16:30:00.000Z');
  });

  it('starts a retried extension where its live original ends, as its first approval did', async () => {
    const original = await approvedStaging(60);
    await provisionRequest(h.deps, original.id);
    h.clock.advance(10 * 60_000);
    const extension = await extendRequest(h.deps, api(ARN.alice), original.id, { durationMinutes: 60, reason: 'more' });
    expect(extension.endsAt).toBe('2026-03-02T11:00:00.000Z');
    iam.failNext = [new ProvisioningError('denied', 'AccessDenied', false)];
    expect((await provisionRequest(h.deps, extension.id)).outcome).toBe('failed');
    h.clock.advance(5 * 60_000);

    // 09:15 + 60 minutes would cut 45 minutes off the extension: it starts at 10:00, as before.
    const retried = await retryRequest(h.deps, api(ARN.alice), extension.id);
    expect(retried.endsAt).toBe('2026-03-02T11:00:00.000Z');
    await provisionRequest(h.deps, extension.id);
    expect((await h.requests.get(extension.id))!).toMatchObject({ status: 'ACTIVE', endsAt: '2026-03-02T11:00:00.000Z' });
  });

  it('revokes live extensions with the request they extend, so revoking removes the access', async () => {
    const original = await approvedStaging(60);
    await provisionRequest(h.deps, original.id);
    h.clock.advance(30 * 60_000);
    const first = await extendRequest(h.deps, api(ARN.alice), original.id, { durationMinutes: 60, reason: 'incident still open' });
    await provisionRequest(h.deps, first.id);
    const second = await extendRequest(h.deps, api(ARN.alice), first.id, { durationMinutes: 60, reason: 'and still' });
    await provisionRequest(h.deps, second.id);
    const other = await createRequest(h.deps, api(ARN.alice), { account: 'staging', profile: 'S3ReadOnly', durationMinutes: 60, reason: 'unrelated' });
    await provisionRequest(h.deps, other.id);
    expect(iam.roles.size).toBe(2);

    const revoked = await revokeRequest(h.deps, api(ARN.alice), original.id, 'done');

    expect(revoked.status).toBe('REVOKED');
    for (const id of [first.id, second.id]) {
      const detail = (await h.requests.getDetail(id))!;
      expect(detail.request.status).toBe('REVOKED');
      expect(detail.events.find((e) => e.action === 'REVOKED')).toMatchObject({ actor: ARN.alice, comment: expect.stringContaining(`Revoked with request`) });
    }
    // The extended role is gone; the unrelated grant stays.
    expect([...iam.roles.values()].map((spec) => spec.requestIds)).toEqual([[other.id]]);
    expect((await h.requests.get(other.id))!.status).toBe('ACTIVE');
  });

  it('cancels a pending extension with the request it extends, so no later approval gives the access back', async () => {
    // production-read needs a lead's approval, so the extension waits.
    const original = await createRequest(h.deps, api(ARN.alice), { account: 'production', profile: 'ReadOnly', durationMinutes: 60, reason: 'work' });
    await decideRequest(h.deps, api(ARN.leadAnna), { requestId: original.id, decision: 'APPROVE' });
    await provisionRequest(h.deps, original.id);
    const extension = await extendRequest(h.deps, api(ARN.alice), original.id, { durationMinutes: 60, reason: 'more' });
    expect(extension.status).toBe('PENDING');

    await revokeRequest(h.deps, api(ARN.leadAnna), original.id, 'incident over');

    const detail = (await h.requests.getDetail(extension.id))!;
    expect(detail.request.status).toBe('CANCELLED');
    expect(detail.events.map((e) => [e.action, e.actor, e.comment])).toEqual([
      ['REQUESTED', ARN.alice, 'more'],
      ['CANCELLED', ARN.leadAnna, `Cancelled: request ${original.id}, which it extends, was revoked.`],
    ]);
    await expect(decideRequest(h.deps, api(ARN.leadAnna), { requestId: extension.id, decision: 'APPROVE' })).rejects.toThrow(/no longer pending: it is CANCELLED/);
    expect(iam.roles.size).toBe(0);
  });

  it('refuses to approve an extension whose original was revoked after the revocation looked for extensions', async () => {
    const original = await createRequest(h.deps, api(ARN.alice), { account: 'production', profile: 'ReadOnly', durationMinutes: 60, reason: 'work' });
    await decideRequest(h.deps, api(ARN.leadAnna), { requestId: original.id, decision: 'APPROVE' });
    await provisionRequest(h.deps, original.id);
    const extension = await extendRequest(h.deps, api(ARN.alice), original.id, { durationMinutes: 60, reason: 'more' });
    // The race: the original ends without its pending extension being seen.
    await endAccess(h.deps, original.id, 'REVOKED', { arn: ARN.leadAnna }, 'incident over');

    const approving = decideRequest(h.deps, api(ARN.leadAnna), { requestId: extension.id, decision: 'APPROVE' });
    await expect(approving).rejects.toBeInstanceOf(ConflictError);
    await expect(approving).rejects.toThrow(`extends request ${original.id}, which was revoked`);
    const detail = (await h.requests.getDetail(extension.id))!;
    expect(detail.request).toMatchObject({ status: 'PENDING', version: extension.version, approvals: [] });
    expect(detail.events.map((e) => e.action)).toEqual(['REQUESTED']);
    // A deny still closes it.
    expect((await decideRequest(h.deps, api(ARN.leadAnna), { requestId: extension.id, decision: 'DENY' })).status).toBe('DENIED');
  });

  it('extends live access without a gap: the extension starts where the original ends', async () => {
    const original = await approvedStaging(60);
    await provisionRequest(h.deps, original.id);
    h.clock.advance(30 * 60_000);
    const extension = await extendRequest(h.deps, api(ARN.alice), original.id, { durationMinutes: 60, reason: 'incident still open' });
    expect(extension).toMatchObject({ status: 'APPROVED', extendsRequestId: original.id, endsAt: '2026-03-02T11:00:00.000Z' });
    await provisionRequest(h.deps, extension.id);
    expect([...iam.roles.values()][0]!.endsAt).toBe('2026-03-02T11:00:00.000Z');
    h.clock.set('2026-03-02T10:00:01.000Z');
    await sweep(h.deps);
    expect(iam.roles.size).toBe(1);
    expect((await h.requests.get(extension.id))!.status).toBe('ACTIVE');
  });

  it('extends a request once: a second extension of it is refused (409), naming the one to extend, whose revoke takes what extends it', async () => {
    const original = await approvedStaging(60);
    await provisionRequest(h.deps, original.id);
    h.clock.advance(30 * 60_000);
    const first = await extendRequest(h.deps, api(ARN.alice), original.id, { durationMinutes: 30, reason: 'more' });
    await provisionRequest(h.deps, first.id);
    const before = (await h.requests.list({ requester: ARN.alice, limit: 100 })).items.length;

    // From the original's end (10:00) a second would end at 10:15, inside the first's 10:30: it would add nothing.
    await expect(extendRequest(h.deps, api(ARN.alice), original.id, { durationMinutes: 15, reason: 'a little more' })).rejects.toMatchObject({
      code: 'CONFLICT',
      message: `Request ${original.id} already has extension ${first.id} (ACTIVE): extend that one (it runs until 2026-03-02T10:30:00.000Z). A request is extended once, so revoking an extension takes away everything that extends it.`,
      details: [{ field: 'extendsRequestId', reason: `request ${original.id} already has extension ${first.id}` }],
    });
    expect((await h.requests.list({ requester: ARN.alice, limit: 100 })).items).toHaveLength(before);

    const second = await extendRequest(h.deps, api(ARN.alice), first.id, { durationMinutes: 15, reason: 'a little more' });
    expect(second.endsAt).toBe('2026-03-02T10:45:00.000Z');
    await provisionRequest(h.deps, second.id);
    await revokeRequest(h.deps, api(ARN.alice), first.id, 'enough');
    expect((await h.requests.get(second.id))!.status).toBe('REVOKED');
    expect([...iam.roles.values()][0]!.endsAt).toBe('2026-03-02T10:00:00.000Z');
  });

  it('names what to do with the extension a request already has, pending or failed, when asked for a second', async () => {
    const original = await createRequest(h.deps, api(ARN.alice), { account: 'production', profile: 'ReadOnly', durationMinutes: 60, reason: 'work' });
    await decideRequest(h.deps, api(ARN.leadAnna), { requestId: original.id, decision: 'APPROVE' });
    await provisionRequest(h.deps, original.id);
    const pending = await extendRequest(h.deps, api(ARN.alice), original.id, { durationMinutes: 30, reason: 'more' });
    const again = () => extendRequest(h.deps, api(ARN.alice), original.id, { durationMinutes: 30, reason: 'again' });

    await expect(again()).rejects.toThrow(`Request ${original.id} already has extension ${pending.id} (PENDING): extend that one once it is approved, or cancel it.`);
    await decideRequest(h.deps, api(ARN.leadAnna), { requestId: pending.id, decision: 'APPROVE' });
    iam.failNext = [new ProvisioningError('IAM refused (AccessDenied)', 'AccessDenied', false)];
    await provisionRequest(h.deps, pending.id);
    expect((await h.requests.get(pending.id))!.status).toBe('FAILED');
    await expect(again()).rejects.toThrow(`Request ${original.id} already has extension ${pending.id} (FAILED): retry it and extend it, or revoke it (it holds nothing) and extend this one.`);
    // Revoked, it holds the request back no more.
    await revokeRequest(h.deps, api(ARN.alice), pending.id, 'not needed');
    expect((await again()).extendsRequestId).toBe(original.id);
  });

  it('starts an extension now when the original, still ACTIVE, has ended but was not swept yet: none of its time lies in the past', async () => {
    const original = await approvedStaging(60);
    await provisionRequest(h.deps, original.id);
    // 10:30: the original ended at 10:00; the sweeper has not expired it yet.
    h.clock.advance(90 * 60_000);
    expect((await h.requests.get(original.id))!.status).toBe('ACTIVE');

    const extension = await extendRequest(h.deps, api(ARN.alice), original.id, { durationMinutes: 60, reason: 'incident still open' });

    // From the original's end it would give 10:00–11:00, half of it gone; from now it is the hour asked for.
    expect(extension).toMatchObject({ status: 'APPROVED', extendsRequestId: original.id, endsAt: '2026-03-02T11:30:00.000Z' });
    await provisionRequest(h.deps, extension.id);
    expect([...iam.roles.values()][0]!.endsAt).toBe('2026-03-02T11:30:00.000Z');
  });
});
