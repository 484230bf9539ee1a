import type { DynamoDBRecord } from 'aws-lambda';
import { noteWritesSent, ProvisioningError } from '../../../src/domain/errors';
import { grantTargetFor } from '../../../src/domain/grants';
import type { AccessRequest } from '../../../src/domain/model';
import type { GrantLease } from '../../../src/domain/ports';
import { createRequest } from '../../../src/domain/use-cases/createRequest';
import { decideRequest } from '../../../src/domain/use-cases/decideRequest';
import { provisionRequest } from '../../../src/domain/use-cases/provisionRequest';
import { runSweep, SWEEPER_STOP_MS, SWEEPER_WORK_MS } from '../../../src/handlers/sweeper';
import { handleStream, WORKER_RESERVE_MS, WORKER_WORK_MS, type WorkerApp } from '../../../src/handlers/worker';
import { RUN_MARGIN_MS, withinRun } from '../../../src/handlers/lease-waits';
import { endAccess, revokeRequest } from '../../../src/domain/use-cases/endAccess';
import { extendRequest } from '../../../src/domain/use-cases/extendRequest';
import { harness, type Harness } from '../../helpers/harness';
import { ARN } from '../../helpers/settings';
import { holdLease } from '../../helpers/leases';
import { intercept } from '../../helpers/intercept';
import { ATTEMPT_MAX_MS, withRetry } from '../../../src/adapters/aws/retry';
import type { GrantStore, Provisioner } from '../../../src/domain/ports';

const grantsOf = (x: Harness): GrantStore => x.grants;

/*
 * Waiting for a busy grant's lease may take ~27 s; the sweeper and the worker
 * stop waiting once only the time their IAM work needs is left, and end the
 * item GrantBusy (taken up again later) instead of being cut off by the
 * Lambda timeout with the lease held. The Lambda context is a fake whose
 * remaining time each wait for the lease spends (2 s a try).
 */

const api = (arn: string) => ({ arn, via: 'api' as const });
const WAIT_COST_MS = 2_000;
let h: Harness;
let remainingMs: number;
let waits: number;
const context = { getRemainingTimeInMillis: () => remainingMs };

beforeEach(async () => {
  h = await harness();
  waits = 0;
  h.deps.lease = {
    ...h.deps.lease,
    sleep: async () => {
      waits++;
      remainingMs -= WAIT_COST_MS;
    },
  };
});
afterEach(async () => {
  await h.close();
});

/** Someone else (a revoke in the API, say) holds the grant's lease of `r` for the next two minutes. */
const holdLeaseOf = (r: AccessRequest): Promise<GrantLease> => holdLease(h, grantTargetFor(h.deps.settings, r).grantKey);

/** Two live grants, both past their end: alice's production request, then bob's staging one. */
async function twoActivePastTheirEnd(): Promise<{ first: AccessRequest; second: AccessRequest }> {
  const first = await approved(60);
  expect((await provisionRequest(h.deps, first.id)).outcome).toBe('active');
  const second = await createRequest(h.deps, api(ARN.bob), { account: 'staging', profile: 'ReadOnly', durationMinutes: 60, reason: 'work' });
  expect((await provisionRequest(h.deps, second.id)).outcome).toBe('active');
  h.clock.advance(61 * 60_000);
  return { first, second };
}

/** The provisioner as it is, but for its role removal. */
function removingWith(remove: Provisioner['remove']): void {
  const real = h.deps.provisioner;
  h.deps.provisioner = { apply: (...args) => real.apply(...args), remove };
}

/** Role removals go through withRetry, as the IAM provisioner's do (so the run's time limit applies); counts those sent. */
function removalsThroughRetry(): () => number {
  const real = h.deps.provisioner;
  let sent = 0;
  removingWith((...args) =>
    withRetry('DeleteRole in account 333333333333', async () => {
      sent++;
      return real.remove(...args);
    }),
  );
  return () => sent;
}

async function approved(durationMinutes = 60): Promise<AccessRequest> {
  const r = await createRequest(h.deps, api(ARN.alice), { account: 'production', profile: 'ReadOnly', durationMinutes, reason: 'work' });
  return decideRequest(h.deps, api(ARN.leadAnna), { requestId: r.id, decision: 'APPROVE' });
}

it('worker: provisioning stops waiting for a busy lease with WORKER_WORK_MS left, writes nothing, and the record is done', async () => {
  const r = await approved();
  await holdLeaseOf(r);
  const record: DynamoDBRecord = { eventName: 'MODIFY', dynamodb: { NewImage: { pk: { S: `REQ#${r.id}` }, sk: { S: '#REQUEST' }, type: { S: 'request' }, status: { S: 'APPROVED' }, id: { S: r.id } }, SequenceNumber: '9001' } };
  const app: WorkerApp = { deps: h.deps, logger: h.logger, flushMetrics: () => undefined };
  remainingMs = WORKER_RESERVE_MS + 5_000;

  const result = await handleStream(app, { Records: [record] }, context);

  // 30 s left: waits at 30, 28, 26, 24 and 22 s, gives up at 20 s, the IAM work's share.
  expect(waits).toBe(5);
  expect(remainingMs).toBe(WORKER_WORK_MS);
  expect(result.batchItemFailures).toEqual([]);
  expect(h.logger.lines).toContainEqual(expect.objectContaining({ level: 'warn', message: 'another change to the grant is in progress; provisioning will be retried' }));
  // Nothing was decided outside the lease: the sweeper re-drives it once the lease is free.
  expect(await h.requests.get(r.id)).toMatchObject({ status: 'APPROVED', version: r.version });
});

it('worker: with time to spare, provisioning waits the lease out as before', async () => {
  const r = await approved();
  const app: WorkerApp = { deps: h.deps, logger: h.logger, flushMetrics: () => undefined };
  remainingMs = 120_000;
  const record: DynamoDBRecord = { eventName: 'MODIFY', dynamodb: { NewImage: { pk: { S: `REQ#${r.id}` }, sk: { S: '#REQUEST' }, type: { S: 'request' }, status: { S: 'APPROVED' }, id: { S: r.id } }, SequenceNumber: '9002' } };
  // The holder lets go after the third try.
  const held = await holdLeaseOf(r);
  const sleep = h.deps.lease!.sleep!;
  h.deps.lease = {
    ...h.deps.lease,
    sleep: async (ms) => {
      await sleep(ms);
      if (waits === 3) await h.grants.release(held);
    },
  };

  const result = await handleStream(app, { Records: [record] }, context);

  expect(result.batchItemFailures).toEqual([]);
  expect(waits).toBe(3);
  expect((await h.requests.get(r.id))!.status).toBe('ACTIVE');
});

it('sweeper: an expiry stops waiting for a busy lease with SWEEPER_WORK_MS left; it stays due, uncounted, and no later item starts', async () => {
  const { first, second } = await twoActivePastTheirEnd();
  const held = await holdLeaseOf(first);
  remainingMs = SWEEPER_STOP_MS + 5_000;

  const report = await runSweep({ deps: h.deps, flushMetrics: () => undefined }, context);

  // 50 s left: waits at 50 … 36 s (8 tries), gives up at 34 s, within the IAM work's 35 s.
  expect(waits).toBe(8);
  expect(remainingMs).toBe(SWEEPER_WORK_MS - 1_000);
  // Running out of time is not a failed expiry: no error, no ExpiryFailed alarm, no backoff.
  expect(report).toMatchObject({ expired: 0, errors: [], more: true });
  expect(h.metrics.counts.get('ExpiryFailed')).toBeUndefined();
  expect(h.metrics.counts.get('SweepOutOfTime')).toBe(1);
  const stillDue = (await h.requests.get(first.id))!;
  expect(stillDue.status).toBe('ACTIVE');
  expect(stillDue.sweepRetry).toBeUndefined();
  // The second expiry waits for the next tick (less than SWEEPER_STOP_MS left).
  expect((await h.requests.get(second.id))!.status).toBe('ACTIVE');

  // The next tick, a minute later, with the lease free and time to spare, ends both.
  await h.grants.release(held);
  h.clock.advance(60_000);
  remainingMs = 120_000;
  // Deployed, every line of the run carries Lambda's request id, cleared when it ends.
  const correlations: (Record<string, string> | undefined)[] = [];
  const logger = Object.assign(Object.create(h.logger), { setCorrelation: (fields: Record<string, string> | undefined) => void correlations.push(fields) });
  const next = await runSweep({ deps: { ...h.deps, logger }, flushMetrics: () => undefined }, { ...context, awsRequestId: 'sweep-run-7' });
  expect(correlations).toStrictEqual([{ awsRequestId: 'sweep-run-7' }, undefined]);
  expect(next).toMatchObject({ expired: 2, errors: [] });
  expect((await h.requests.get(first.id))!.status).toBe('EXPIRED');
  expect((await h.requests.get(second.id))!.status).toBe('EXPIRED');
});

it('sweeper: a re-driven provisioning that stops waiting for a busy lease is counted as SweepOutOfTime, stays APPROVED with its attempts untouched, and no later item starts', async () => {
  const first = await approved();
  const second = await approved();
  h.clock.advance(5 * 60_000); // both stuck past the sweeper's re-drive threshold
  const held = await holdLeaseOf(first);
  remainingMs = SWEEPER_STOP_MS + 5_000;

  const report = await runSweep({ deps: h.deps, flushMetrics: () => undefined }, context);

  expect(waits).toBe(8);
  expect(report).toMatchObject({ provisioned: 0, failed: 0, errors: [], more: true });
  expect(h.metrics.counts.get('SweepOutOfTime')).toBe(1);
  expect(h.metrics.counts.get('SweepStepFailed')).toBeUndefined();
  expect(await h.requests.get(first.id)).toMatchObject({ status: 'APPROVED', version: first.version, provisioningAttempts: 0 });
  expect(await h.requests.get(second.id)).toMatchObject({ status: 'APPROVED', version: second.version });

  // The next tick, with the lease free and time to spare, provisions both.
  await h.grants.release(held);
  h.clock.advance(60_000);
  remainingMs = 120_000;
  expect(await runSweep({ deps: h.deps, flushMetrics: () => undefined }, context)).toMatchObject({ provisioned: 2, errors: [] });
});

it('a lease wait that is not cut short still ends in GrantBusy after its attempts, as a failure the sweeper backs off from', async () => {
  const first = await approved(60);
  expect((await provisionRequest(h.deps, first.id)).outcome).toBe('active');
  h.clock.advance(61 * 60_000);
  await holdLeaseOf(first);
  h.deps.lease = { ...h.deps.lease, attempts: 3 };
  remainingMs = 120_000;

  const report = await runSweep({ deps: h.deps, flushMetrics: () => undefined }, context);

  expect(waits).toBe(2);
  expect(report.errors).toEqual([{ requestId: first.id, step: 'EXPIRE', error: expect.stringContaining('is in progress; try again shortly') }]);
  expect(h.metrics.counts.get('ExpiryFailed')).toBe(1);
  expect((await h.requests.get(first.id))!.sweepRetry).toMatchObject({ kind: 'EXPIRE', attempts: 1 });
});

it('worker: an approval whose end passed before provisioning, with its grant busy, is left APPROVED for the sweeper, not failed back to the stream', async () => {
  const r = await approved(30);
  h.clock.advance(31 * 60_000);
  await holdLeaseOf(r);
  const record: DynamoDBRecord = { eventName: 'MODIFY', dynamodb: { NewImage: { pk: { S: `REQ#${r.id}` }, sk: { S: '#REQUEST' }, type: { S: 'request' }, status: { S: 'APPROVED' }, id: { S: r.id } }, SequenceNumber: '9003' } };
  const app: WorkerApp = { deps: h.deps, logger: h.logger, flushMetrics: () => undefined };
  remainingMs = WORKER_RESERVE_MS + 5_000;

  const result = await handleStream(app, { Records: [record] }, context);

  expect(result.batchItemFailures).toEqual([]);
  expect(h.logger.lines).toContainEqual(expect.objectContaining({ level: 'warn', message: 'another change to the grant is in progress; ending will be retried' }));
  expect(h.logger.lines.filter((l) => l.level === 'error')).toEqual([]);
  expect(await h.requests.get(r.id)).toMatchObject({ status: 'APPROVED', version: r.version });
});

it('sweeper: an expiry whose IAM call finds too little of the run left (OutOfTime), after other items used it, stays due, uncounted and not backed off', async () => {
  const { first, second } = await twoActivePastTheirEnd();
  const real = h.deps.provisioner;
  let sent = 0;
  removingWith(async (...args) => {
    if (args[2] !== second.id) return real.remove(...args);
    // The first expiry and slow reads before this delete used up most of the run: too little is left for one IAM attempt.
    remainingMs -= 40_000;
    return withRetry('DeleteRole in account 222222222222', async () => {
      sent++;
      return [];
    });
  });
  remainingMs = SWEEPER_STOP_MS + 5_000;

  const report = await runSweep({ deps: h.deps, flushMetrics: () => undefined }, context);

  expect(sent).toBe(0);
  expect(report).toMatchObject({ expired: 1, errors: [], more: true });
  expect(h.metrics.counts.get('ExpiryFailed')).toBeUndefined();
  expect(h.metrics.counts.get('SweepOutOfTime')).toBe(1);
  expect(await h.requests.get(first.id)).toMatchObject({ status: 'EXPIRED' });
  expect(await h.requests.get(second.id)).toMatchObject({ status: 'ACTIVE' });
  expect((await h.requests.get(second.id))!.sweepRetry).toBeUndefined();
});

it('sweeper: an expiry that runs out of time for its IAM call as the first item of a sweep is slow itself: counted and backed off, so it does not stand first tick after tick', async () => {
  const slow = await approved(60);
  expect((await provisionRequest(h.deps, slow.id)).outcome).toBe('active');
  // A timeout due too, taken first: it calls no IAM, so the expiry is still the sweep's first IAM item.
  const waiting = await createRequest(h.deps, api(ARN.bob), { account: 'production', profile: 'ReadOnly', durationMinutes: 60, reason: 'work' });
  h.clock.set(new Date(Math.max(Date.parse(slow.endsAt!), Date.parse(waiting.decisionDeadline)) + 60_000).toISOString());
  removingWith(async () => {
    // IAM crawled through the reads: 110 s of the run's 120 s went before the delete.
    remainingMs -= 110_000;
    return withRetry('DeleteRole in account 333333333333', async () => []);
  });
  remainingMs = 120_000;

  const report = await runSweep({ deps: h.deps, flushMetrics: () => undefined }, context);

  expect(report.errors).toEqual([{ requestId: slow.id, step: 'EXPIRE', error: expect.stringContaining('was not sent: too little time is left') }]);
  expect(h.metrics.counts.get('ExpiryFailed')).toBe(1);
  expect(h.metrics.counts.get('SweepOutOfTime')).toBeUndefined();
  expect(await h.requests.get(slow.id)).toMatchObject({ status: 'ACTIVE', sweepRetry: { kind: 'EXPIRE', attempts: 1 } });
  expect(report.timedOut).toBe(1);
});

it('api: a revoke with too little of the invocation left for its IAM call is not revoked, says to repeat it, and a repeat with time finishes it', async () => {
  const r = await approved(60);
  expect((await provisionRequest(h.deps, r.id)).outcome).toBe('active');
  const sent = removalsThroughRetry();

  // 15 s left of the API's invocation: less than one IAM attempt and the margin after it.
  const cut = withinRun(() => 15_000, () => revokeRequest(h.deps, api(ARN.alice), r.id));

  await expect(cut).rejects.toMatchObject({
    code: 'PROVISIONING_FAILED',
    awsCode: 'OutOfTime',
    message: `Request ${r.id} is not revoked: this call ran out of time before its next IAM change (IAM was slow or throttling). Repeat the revoke to finish it.`,
  });
  expect(sent()).toBe(0);
  expect(await h.requests.get(r.id)).toMatchObject({ status: 'ACTIVE' });
  const repeat = await withinRun(() => 29_000, () => revokeRequest(h.deps, api(ARN.alice), r.id));
  expect(repeat.status).toBe('REVOKED');
  expect(sent()).toBe(1);
});

it("api: a repeated revoke whose extension has too little of the invocation left for its IAM call says the request is revoked but the extension's access stays, and to repeat it", async () => {
  const r = await approved(60);
  expect((await provisionRequest(h.deps, r.id)).outcome).toBe('active');
  const extension = await extendRequest(h.deps, api(ARN.alice), r.id, { durationMinutes: 60, reason: 'more' });
  await decideRequest(h.deps, api(ARN.leadBen), { requestId: extension.id, decision: 'APPROVE' });
  expect((await provisionRequest(h.deps, extension.id)).outcome).toBe('active');
  // The request itself is revoked, its extension still live (a revocation cut short after the request's own commit).
  await endAccess(h.deps, r.id, 'REVOKED', { arn: ARN.leadBen }, 'incident over');
  const sent = removalsThroughRetry();

  const cut = withinRun(() => 15_000, () => revokeRequest(h.deps, api(ARN.alice), r.id));

  await expect(cut).rejects.toMatchObject({
    code: 'PROVISIONING_FAILED',
    awsCode: 'RevocationIncomplete',
    retryable: true,
    message: `Request ${r.id} is revoked, but one of its extensions could not be ended, so its access stays: this call ran out of time before its next IAM change (IAM was slow or throttling). Repeat the revoke to finish it.`,
  });
  expect(sent()).toBe(0);
  expect(h.metrics.counts.get('RevocationIncomplete')).toBe(1);
  expect(await h.requests.get(extension.id)).toMatchObject({ status: 'ACTIVE' });
  await expect(withinRun(() => 29_000, () => revokeRequest(h.deps, api(ARN.alice), r.id))).resolves.toMatchObject({ id: r.id, status: 'REVOKED' });
  expect(await h.requests.get(extension.id)).toMatchObject({ status: 'REVOKED' });
  expect(sent()).toBe(1);
});

describe('IAM calls under a grant lease end while the lease is held', () => {
  it('starts no IAM attempt with less than one attempt’s time left of the lease, and leaves the request to be retried', async () => {
    const r = await approved();
    // IAM throttles every call, and each attempt takes 40 s of the 120 s lease.
    const leftAtEachAttempt: number[] = [];
    let leaseUntil = 0;
    h.deps.grants = intercept(h.deps.grants, {
      acquire: async (...args: Parameters<typeof h.deps.grants.acquire>) => {
        const lease = await grantsOf(h).acquire(...args);
        if (lease) leaseUntil = Date.parse(lease.until);
        return lease;
      },
    });
    const throttled = async () => {
      leftAtEachAttempt.push(leaseUntil - h.clock.now().getTime());
      h.clock.advance(40_000);
      throw Object.assign(new Error('Rate exceeded'), { name: 'Throttling', $metadata: { httpStatusCode: 400 } });
    };
    h.deps.provisioner = {
      apply: () => withRetry('CreateRole in account 333333333333', throttled, { sleep: async () => undefined }),
      remove: () => withRetry('DeleteRole in account 333333333333', throttled, { sleep: async () => undefined }),
    };

    const result = await provisionRequest(h.deps, r.id);

    expect(leftAtEachAttempt).toEqual([120_000, 80_000, 40_000]);
    expect(leftAtEachAttempt.every((left) => left >= ATTEMPT_MAX_MS)).toBe(true);
    expect(result.outcome).not.toBe('active');
    expect(await h.requests.get(r.id)).toMatchObject({ status: 'APPROVED' });
  });

  it('counts a step it sent nothing for (OutOfTime) only as the first attempt, never toward the attempts that end a request FAILED', async () => {
    const r = await approved();
    let sent = 0;
    h.deps.provisioner = {
      apply: async () => {
        // Slow reads before the write used up all but 10 s of the lease.
        h.clock.advance(110_000);
        return withRetry('CreateRole in account 333333333333', async () => {
          sent++;
          return { roleArn: 'arn:aws:iam::333333333333:role/rolegate/x', calls: [] };
        });
      },
      remove: async () => [],
    };

    for (let run = 0; run < 6; run++) expect((await provisionRequest(h.deps, r.id)).outcome).toBe('retry-later');

    expect(sent).toBe(0);
    // Counted once: with its attempts still 0, each rewrite would match the worker's stream filter and start it again at once.
    const after = (await h.requests.get(r.id))!;
    expect(after).toMatchObject({ status: 'APPROVED', provisioningAttempts: 1, version: r.version + 6 });
    // Rewritten each time, so its due entry (keyed by updatedAt) moves behind work that fell due meanwhile.
    expect(after.updatedAt > r.updatedAt).toBe(true);
    expect(h.logger.lines).toContainEqual(expect.objectContaining({ message: 'provisioning failed; it will be retried', fields: expect.objectContaining({ awsCode: 'OutOfTime', attempts: 1 }) }));
    // Audited once, as the counted attempt; the uncounted ones after it sent nothing.
    const audited = (await h.requests.getDetail(r.id))!.events.filter((e) => e.action === 'PROVISIONING_ATTEMPT_FAILED');
    expect(audited.map((e) => e.data)).toEqual([{ awsCode: 'OutOfTime', attempts: 1, maxAttempts: 5, writesBeforeError: [] }]);
  });

  it('audits the writes a step put off for time (OutOfTime) had sent before it, whether counted or not', async () => {
    const r = await approved();
    h.deps.provisioner = {
      apply: async () => {
        const e = new ProvisioningError('PutRolePolicy was not sent: too little time is left', 'OutOfTime', true);
        noteWritesSent(e, ['CreateRole']);
        throw e;
      },
      remove: async () => [],
    };

    expect((await provisionRequest(h.deps, r.id)).outcome).toBe('retry-later');
    expect((await provisionRequest(h.deps, r.id)).outcome).toBe('retry-later');

    const audited = (await h.requests.getDetail(r.id))!.events.filter((e) => e.action === 'PROVISIONING_ATTEMPT_FAILED');
    expect(audited.map((e) => e.data)).toEqual([
      { awsCode: 'OutOfTime', attempts: 1, maxAttempts: 5, writesBeforeError: ['CreateRole'] },
      { awsCode: 'OutOfTime', attempts: 1, maxAttempts: 5, writesBeforeError: ['CreateRole'] },
    ]);
  });

  it('the worker starts no IAM attempt that could outlast its invocation, and leaves the request to be retried', async () => {
    const r = await approved();
    const record: DynamoDBRecord = { eventName: 'MODIFY', dynamodb: { NewImage: { pk: { S: `REQ#${r.id}` }, sk: { S: '#REQUEST' }, type: { S: 'request' }, status: { S: 'APPROVED' }, id: { S: r.id } }, SequenceNumber: '9004' } };
    // IAM throttles every call, and each attempt takes 10 s of the invocation; 30 s are left as it starts.
    remainingMs = WORKER_RESERVE_MS + 5_000;
    const remainingAtEachAttempt: number[] = [];
    const throttled = async () => {
      remainingAtEachAttempt.push(remainingMs);
      remainingMs -= 10_000;
      throw Object.assign(new Error('Rate exceeded'), { name: 'Throttling', $metadata: { httpStatusCode: 400 } });
    };
    h.deps.provisioner = {
      apply: () => withRetry('CreateRole in account 333333333333', throttled, { sleep: async () => undefined }),
      remove: async () => [],
    };

    const result = await handleStream({ deps: h.deps, logger: h.logger, flushMetrics: () => undefined }, { Records: [record] }, context);

    // A third attempt would start with 10 s left, less than one attempt may take and the commit after it.
    expect(remainingAtEachAttempt).toEqual([30_000, 20_000]);
    expect(remainingAtEachAttempt.every((left) => left - RUN_MARGIN_MS >= ATTEMPT_MAX_MS)).toBe(true);
    expect(result.batchItemFailures).toEqual([]);
    expect(await h.requests.get(r.id)).toMatchObject({ status: 'APPROVED', provisioningAttempts: 1 });
  });
});
