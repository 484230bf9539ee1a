import { ConfigError, NotFoundError, ProvisioningError } from '../../../src/domain/errors';
import type { AccountSettings } from '../../../src/domain/settings';
import { SYSTEM_ACTOR, type AccessRequest } from '../../../src/domain/model';
import type { GrantSpec, ProvisionOutcome, RequestStore } from '../../../src/domain/ports';
import type { PlannedCall } from '../../../src/domain/model';
import { createRequest } from '../../../src/domain/use-cases/createRequest';
import { decideRequest } from '../../../src/domain/use-cases/decideRequest';
import { endAccess } from '../../../src/domain/use-cases/endAccess';
import { provisionRequest } from '../../../src/domain/use-cases/provisionRequest';
import { sweep } from '../../../src/domain/use-cases/sweep';
import { harness, type Harness } from '../../helpers/harness';
import { RecordingProvisioner } from '../../helpers/recording-provisioner';
import { ARN } from '../../helpers/settings';

/*
 * Due work that keeps failing must not hold up the rest: the sweeper reads
 * the due index oldest first, a batch at a time, and an item that stays at
 * the head would starve every later expiry (or provisioning) in any account.
 */

const PRODUCTION = '333333333333';
const api = (arn: string) => ({ arn, via: 'api' as const });

/** IAM as seen from the sweeper when one account's provisioner role does not trust it: every call there is refused. */
class UntrustedAccount extends RecordingProvisioner {
  untrusted: string | undefined = PRODUCTION;

  private refuse(account: AccountSettings): void {
    if (account.id === this.untrusted) {
      throw new ProvisioningError(
        `AssumeRole into account ${account.id} failed: rolegate may not act in this account (AccessDenied)`,
        'AccessDenied',
        false,
      );
    }
  }

  override async apply(spec: GrantSpec, requestId: string): Promise<ProvisionOutcome> {
    this.refuse(spec.account);
    return super.apply(spec, requestId);
  }

  override async remove(account: AccountSettings, roleName: string, requestId: string): Promise<PlannedCall[]> {
    this.refuse(account);
    return super.remove(account, roleName, requestId);
  }
}

describe('the sweeper when some due work keeps failing (real DynamoDB)', () => {
  let h: Harness;
  let iam: UntrustedAccount;
  beforeEach(async () => {
    iam = new UntrustedAccount();
    iam.untrusted = undefined;
    h = await harness({ provisioner: iam });
  });
  afterEach(async () => {
    await h.close();
  });

  /** An ACTIVE production request (approved by a lead), ending after `minutes`. */
  async function activeProduction(who: string, minutes: number): Promise<AccessRequest> {
    const r = await createRequest(h.deps, api(who), { account: 'production', profile: 'ReadOnly', durationMinutes: minutes, reason: 'work' });
    await decideRequest(h.deps, api(ARN.leadAnna), { requestId: r.id, decision: 'APPROVE' });
    expect((await provisionRequest(h.deps, r.id)).outcome).toBe('active');
    return r;
  }

  /** An ACTIVE staging request (auto-approved), ending after `minutes`. */
  async function activeStaging(who: string, minutes: number, profile = 'ReadOnly'): Promise<AccessRequest> {
    const r = await createRequest(h.deps, api(who), { account: 'staging', profile, durationMinutes: minutes, reason: 'work' });
    expect((await provisionRequest(h.deps, r.id)).outcome).toBe('active');
    return r;
  }

  const status = async (r: AccessRequest) => (await h.requests.get(r.id))!.status;
  const expiredEvents = async (r: AccessRequest) => (await h.requests.getDetail(r.id))!.events.filter((e) => e.action === 'EXPIRED');

  it('expires a later request in another account although earlier expiries keep failing (batch of 1)', async () => {
    // Arrange: two production grants end first, but rolegate can no longer act in production.
    const stuck = [await activeProduction(ARN.alice, 30), await activeProduction(ARN.bob, 31)];
    const healthy = await activeStaging(ARN.sreSam, 45);
    iam.untrusted = PRODUCTION;
    h.clock.advance(46 * 60_000);
    const firstFailure = h.clock.now().toISOString();

    // Act: within a sweep, failures are paged past up to a batch of them; the rest waits for the next tick.
    const first = await sweep(h.deps, { batchSize: 1 });
    h.clock.advance(30_000);
    const second = await sweep(h.deps, { batchSize: 1 });

    // Assert: the healthy expiry ran; the failing ones are reported, counted and put off, not dropped.
    expect(first).toMatchObject({ expired: 0, more: true });
    expect(first.errors.map((e) => [e.requestId, e.step])).toEqual(stuck.map((r) => [r.id, 'EXPIRE']));
    expect(second).toMatchObject({ expired: 1, errors: [] });
    expect(await status(healthy)).toBe('EXPIRED');
    expect(await expiredEvents(healthy)).toHaveLength(1);
    expect(h.metrics.counts.get('ExpiryFailed')).toBe(2);
    for (const r of stuck) {
      expect(await h.requests.get(r.id)).toMatchObject({
        status: 'ACTIVE',
        sweepRetry: { kind: 'EXPIRE', attempts: 1, lastAttemptAt: firstFailure, nextAttemptAt: '2026-03-02T09:46:50.000Z', lastError: expect.stringContaining('AccessDenied') },
      });
    }
  });

  const sdkText = 'User: arn:aws:sts::999999999999:assumed-role/rolegate-prod-SweeperRole-1ABC/rolegate-prod-sweeper is not authorized to perform: dynamodb:DeleteItem';
  it.each([
    ["an SDK's own error text", () => Object.assign(new Error(sdkText), { name: 'AccessDeniedException' })],
    // rolegate's own error, but one whose words are for operators (it names parameters and files).
    ['a configuration error', () => new ConfigError(sdkText)],
  ])('keeps %s off the request (its people read sweepRetry), in the log only', async (_, error) => {
    const r = await activeStaging(ARN.alice, 15);
    h.deps.grants.remove = async () => {
      throw error();
    };
    h.clock.advance(16 * 60_000);

    await sweep(h.deps);

    expect((await h.requests.get(r.id))!.sweepRetry).toMatchObject({ kind: 'EXPIRE', attempts: 1, lastError: "an unexpected error (the sweeper's log holds it, under this request's id)" });
    expect(JSON.stringify(h.logger.lines)).toContain(sdkText);
  });

  it('expires a later request in the same sweep when one earlier expiry fails (batch of 1)', async () => {
    // Arrange
    const stuck = await activeProduction(ARN.alice, 30);
    const healthy = await activeStaging(ARN.bob, 45);
    iam.untrusted = PRODUCTION;
    h.clock.advance(46 * 60_000);

    // Act
    const report = await sweep(h.deps, { batchSize: 1 });

    // Assert
    expect(report).toMatchObject({ expired: 1, errors: [{ requestId: stuck.id, step: 'EXPIRE' }] });
    expect(await status(healthy)).toBe('EXPIRED');
    expect(await status(stuck)).toBe('ACTIVE');
  });

  it('keeps retrying a failing expiry with backoff until it succeeds, and expires it once', async () => {
    // Arrange
    const stuck = await activeProduction(ARN.alice, 30);
    iam.untrusted = PRODUCTION;
    h.clock.advance(31 * 60_000);
    const sweeps: { at: string; errors: number }[] = [];
    const tick = async () => sweeps.push({ at: h.clock.now().toISOString(), errors: (await sweep(h.deps, { batchSize: 1 })).errors.length });

    // Act: a sweep every minute for half an hour, rolegate trusted again from 09:47.
    for (let minute = 0; minute <= 30; minute++) {
      if (minute === 16) iam.untrusted = undefined;
      await tick();
      h.clock.advance(60_000);
    }

    // Assert: tried again after 1, 2, 4, 8, 15 minutes, and the last try succeeded.
    expect(sweeps.filter((s) => s.errors > 0).map((s) => s.at.slice(11, 16))).toEqual(['09:31', '09:32', '09:34', '09:38', '09:46']);
    expect(h.metrics.counts.get('ExpiryFailed')).toBe(5);
    const detail = (await h.requests.getDetail(stuck.id))!;
    expect(detail.request.status).toBe('EXPIRED');
    expect(detail.request.sweepRetry).toMatchObject({ attempts: 5, nextAttemptAt: '2026-03-02T10:00:50.000Z' });
    expect(detail.events.filter((e) => e.action === 'EXPIRED').map((e) => e.at)).toEqual(['2026-03-02T10:01:00.000Z']);
    expect(iam.roles.size).toBe(0);
  });

  const leak = 'User: arn:aws:sts::999999999999:assumed-role/rolegate-worker/x is not authorized to perform: dynamodb:Query on arn:aws:dynamodb:eu-west-1:999999999999:table/rolegate';
  it.each([
    // An error no part of rolegate made, quoting what only operators should read.
    ['no part of rolegate made', () => new Error(leak)],
    // rolegate's own, but for operators: a configuration error names parameters and files.
    ['about the configuration', () => new ConfigError(leak)],
  ])('ends a request FAILED by an error it did not expect (%s) without publishing that error, which only the log holds', async (_, error) => {
    // Arrange
    iam.apply = async () => {
      throw error();
    };
    const request = await createRequest(h.deps, api(ARN.alice), { account: 'staging', profile: 'ReadOnly', durationMinutes: 60, reason: 'work' });

    // Act: the stuck-provisioning re-drive until the budget (5) is spent.
    for (let i = 0; i < 5; i++) {
      h.clock.advance(3 * 60_000);
      await sweep(h.deps, { batchSize: 1 });
    }

    // Assert
    const reason = "Provisioning failed with an unexpected error (the sweeper's log holds it, under this request's id)";
    const detail = (await h.requests.getDetail(request.id))!;
    expect(detail.request).toMatchObject({ status: 'FAILED', failure: { code: 'UnexpectedError', retryable: true, message: reason } });
    expect(detail.events.filter((e) => e.action === 'PROVISIONING_FAILED').map((e) => e.comment)).toEqual([reason]);
    const failed = h.notifier.sent.filter((n) => n.kind === 'request.failed');
    expect(failed.map((n) => n.request.failure?.message)).toEqual([reason]);
    expect(JSON.stringify(detail)).not.toContain('999999999999');
    expect(h.logger.lines.filter((l) => l.message === 'sweep step failed; it will be retried later' && l.fields?.['requestId'] === request.id && l.fields?.['error'] === leak)).toHaveLength(5);
  });

  it('provisions a later approved request although an earlier one keeps failing unexpectedly, which ends FAILED with the error after the attempt budget', async () => {
    // Arrange: both approved while the worker was down; then the first one's role meets an error rolegate did not expect.
    const orphan = await createRequest(h.deps, api(ARN.alice), { account: 'staging', profile: 'S3ReadOnly', durationMinutes: 60, reason: 'work' });
    h.clock.advance(1000);
    const healthy = await createRequest(h.deps, api(ARN.bob), { account: 'staging', profile: 'ReadOnly', durationMinutes: 60, reason: 'work' });
    const apply = iam.apply.bind(iam);
    iam.apply = async (spec, requestId) => {
      if (spec.profile.name === 'S3ReadOnly') throw new NotFoundError('No policy template is named "S3ReadOnly".');
      return apply(spec, requestId);
    };
    h.clock.advance(3 * 60_000);

    // Act
    const first = await sweep(h.deps, { batchSize: 1 });

    // Assert: the healthy one went through; the failing one is counted and waits its turn.
    expect(first).toMatchObject({ provisioned: 1, failed: 0 });
    expect(first.errors.map((e) => [e.requestId, e.step])).toEqual([[orphan.id, 'PROVISION']]);
    expect(await status(healthy)).toBe('ACTIVE');
    expect(await h.requests.get(orphan.id)).toMatchObject({ status: 'APPROVED', provisioningAttempts: 1 });

    // Act: the stuck-provisioning re-drive, every three minutes, until the budget (5) is spent.
    const reports = [];
    for (let i = 0; i < 4; i++) {
      h.clock.advance(3 * 60_000);
      reports.push(await sweep(h.deps, { batchSize: 1 }));
    }

    // Assert
    expect(reports.map((r) => r.failed)).toEqual([0, 0, 0, 1]);
    const detail = (await h.requests.getDetail(orphan.id))!;
    expect(detail.request).toMatchObject({
      status: 'FAILED',
      provisioningAttempts: 5,
      failure: { code: 'UnexpectedError', retryable: true, message: 'Provisioning failed with an unexpected error: No policy template is named "S3ReadOnly".' },
    });
    const failed = detail.events.filter((e) => e.action === 'PROVISIONING_FAILED');
    expect(failed).toHaveLength(1);
    expect(failed[0]!.data).toMatchObject({ awsCode: 'UnexpectedError', attempts: 5, cleanup: 'done' });
    expect(h.metrics.counts.get('ProvisioningFailed')).toBe(1);
    expect(h.metrics.counts.get('SweepStepFailed')).toBe(5);
    expect(h.notifier.sent.filter((n) => n.request.id === orphan.id).map((n) => n.kind)).toContain('request.failed');
    // Off the due index: a sixth sweep does not see it.
    h.clock.advance(3 * 60_000);
    expect((await sweep(h.deps, { batchSize: 1 })).errors).toEqual([]);
  });

  it('two sweeps at once expire the healthy requests once each, count each once, and file the failing one once', async () => {
    // Arrange
    const stuck = await activeProduction(ARN.alice, 30);
    const healthy = [await activeStaging(ARN.bob, 40), await activeStaging(ARN.sreSam, 40), await activeStaging(ARN.leadBen, 40)];
    iam.untrusted = PRODUCTION;
    h.clock.advance(41 * 60_000);

    // Act
    const [a, b] = await Promise.all([sweep(h.deps), sweep(h.deps)]);

    // Assert
    expect(a.expired + b.expired).toBe(3);
    expect(h.metrics.counts.get('SweepItems')).toBe(3);
    for (const r of healthy) {
      expect(await status(r)).toBe('EXPIRED');
      expect(await expiredEvents(r)).toHaveLength(1);
    }
    // Each sweep that tried the failing one reports it (both listed it at once: one or both tried), and counts it for the alarm.
    const errors = [...a.errors, ...b.errors];
    expect(errors.length).toBeGreaterThanOrEqual(1);
    expect(errors.map((e) => e.requestId)).toEqual(errors.map(() => stuck.id));
    expect(h.metrics.counts.get('ExpiryFailed')).toBe(errors.length);
    // Filed once: one put-off, the second sweep's conditional on the version the first moved on.
    expect(await h.requests.get(stuck.id)).toMatchObject({ status: 'ACTIVE', sweepRetry: { attempts: 1, nextAttemptAt: '2026-03-02T09:41:50.000Z' } });
  });

  it('times out pending requests before it expires access: a run with time for one item spends it on the timeout (DynamoDB only)', async () => {
    const live = await activeStaging(ARN.alice, 30);
    const pending = await createRequest(h.deps, api(ARN.bob), { account: 'production', profile: 'ReadOnly', durationMinutes: 60, reason: 'work' });
    h.clock.set(new Date(Math.max(Date.parse(live.endsAt!), Date.parse(pending.decisionDeadline)) + 60_000).toISOString());
    let begun = 0;

    const report = await sweep(h.deps, { shouldStop: () => begun++ >= 1 });

    expect(report).toMatchObject({ timedOut: 1, expired: 0, more: true });
    expect(await status(pending)).toBe('TIMED_OUT');
    expect(await status(live)).toBe('ACTIVE');
  });

  it('does not count an expiry that a concurrent sweep carried out first', async () => {
    // Arrange: the other sweep ends the request between this sweep's due query and its expiry.
    const r = await activeStaging(ARN.alice, 30);
    h.clock.advance(31 * 60_000);
    const store = h.deps.requests;
    let raced = false;
    const racing: RequestStore = {
      commit: (w) => store.commit(w),
      get: (id) => store.get(id),
      getDetail: (id) => store.getDetail(id),
      list: (q) => store.list(q),
      extensionsOf: (id) => store.extensionsOf(id),
      appendEvents: (e) => store.appendEvents(e),
      appendEventsWhileAt: (e, at) => store.appendEventsWhileAt(e, at),
      appendReport: (e, r) => store.appendReport(e, r),
      claimed: (r, k, a) => store.claimed(r, k, a),
      listDue: async (kind, before, limit, cursor) => {
        const page = await store.listDue(kind, before, limit, cursor);
        if (kind === 'EXPIRE' && !raced && page.items.length > 0) {
          raced = true;
          await endAccess({ ...h.deps, requests: store }, r.id, 'EXPIRED', SYSTEM_ACTOR);
        }
        return page;
      },
    };

    // Act
    const report = await sweep({ ...h.deps, requests: racing });

    // Assert
    expect(raced).toBe(true);
    expect(report).toMatchObject({ expired: 0, errors: [] });
    expect(h.metrics.counts.get('SweepItems')).toBe(0);
    expect(h.metrics.counts.get('AccessEnded')).toBe(1);
    expect(await expiredEvents(r)).toHaveLength(1);
  });
});
