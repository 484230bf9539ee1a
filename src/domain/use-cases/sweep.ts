import { audit } from '../audit';
import { errorForLog, IN_THE_SWEEPERS_LOG, messageForUsers, OutOfTimeError, ProvisioningError, StaleWriteError } from '../errors';
import { SYSTEM_ACTOR, type AccessRequest, type SweepRetry } from '../model';
import type { DueKind, RequestStore } from '../ports';
import { announce, isoNow, withOptimisticRetry } from './context';
import { endAccess } from './endAccess';
import { provisionRequest, recordUnexpectedProvisioningError, type ProvisioningDeps, type ProvisionResult } from './provisionRequest';

export interface SweepOptions {
  /** Items handled per kind in one sweep; the rest waits for the next tick. */
  batchSize?: number;
  /** An APPROVED request untouched this long is re-driven (the worker may have died). */
  stuckAfterSeconds?: number;
  /** Stop starting new items when this says so (the Lambda's remaining time). */
  shouldStop?: () => boolean;
}

export interface SweepReport {
  timedOut: number;
  expired: number;
  provisioned: number;
  failed: number;
  errors: { requestId: string; step: DueKind; error: string }[];
  /** More due work was left for the next tick. */
  more: boolean;
}

/** A failed expiry or timeout is tried again after 1, 2, 4, 8 minutes, then every 15. */
const RETRY_FIRST_MS = 60_000;
const RETRY_MAX_MS = 15 * 60_000;
/**
 * Due strictly before the sweep's instant, a retry filed a whole number of
 * minutes after a tick would wait for the tick after; filed this much
 * earlier, the tick it aims at takes it even if it fires a little early.
 */
const RETRY_EARLY_MS = 10_000;

/** Kept on the request for whoever looks at it; the log line carries the whole error. */
const MAX_ERROR_LENGTH = 500;

/**
 * One pass of the scheduled sweeper: times out pending requests past their
 * deadline, expires access past its end, re-drives stuck provisioning (in
 * that order). Due work is read from the due index, never by scanning, so
 * the cost follows the work that is due. Each item is handled on its own: one failure does
 * not stop the others, and conditional transitions make concurrent sweeps safe.
 * A failed item is put off (an expiry or a timeout with backoff, provisioning
 * as one more attempt of its budget) so it never holds the head of the due
 * index; within a sweep, failures do not use up the batch, up to a batch of
 * them per kind.
 */
export async function sweep(deps: ProvisioningDeps, options: SweepOptions = {}): Promise<SweepReport> {
  const batch = options.batchSize ?? 50;
  const stop = options.shouldStop ?? (() => false);
  const report: SweepReport = { timedOut: 0, expired: 0, provisioned: 0, failed: 0, errors: [], more: false };
  const now = isoNow(deps.clock);
  const started = Date.now();
  /** Items this sweep has started that call IAM (expiries, provisioning): timeouts, taken first, call none. */
  let iamBegun = 0;

  const run = async (kind: DueKind, before: string, step: (r: AccessRequest) => Promise<void>, putOff: (r: AccessRequest, error: unknown) => Promise<void>) => {
    let handled = 0;
    let failed = 0;
    let cursor: string | undefined;
    do {
      const page = await deps.requests.listDue(kind, before, batch - handled, cursor);
      for (const request of page.items) {
        if (stop()) {
          report.more = true;
          return;
        }
        // The sweep's first item to call IAM began with (nearly) the whole run ahead: timeouts before it are DynamoDB writes.
        const first = kind !== 'TIMEOUT' && iamBegun++ === 0;
        try {
          await step(request);
          handled++;
        } catch (e) {
          // An IAM call with no time left to finish it, in the sweep's first item, which began with the whole
          // run ahead: the item itself is slow (IAM crawling). Put off as any failure (counted, backed off), or
          // it would stand first in the due index tick after tick, with every expiry behind it, and no alarm.
          const noTimeForIam = e instanceof ProvisioningError && e.awsCode === 'OutOfTime' && !first;
          if (e instanceof OutOfTimeError || noTimeForIam) {
            // Not a failure: this run stopped waiting for a busy grant, or sent no IAM call it had no time
            // left to finish, to keep its time; the item stays due.
            deps.logger.info('sweep out of time; the next tick takes it up', { requestId: request.id, step: kind, why: e instanceof OutOfTimeError ? 'grant busy' : 'no time for an IAM call' });
            // Counted (no alarm): a grant busy tick after tick shows here before anything fails.
            deps.metrics?.count('SweepOutOfTime');
            report.more = true;
            return;
          }
          const error = e instanceof Error ? e.message : String(e);
          report.errors.push({ requestId: request.id, step: kind, error });
          deps.logger.warn('sweep step failed; it will be retried later', { requestId: request.id, step: kind, error: errorForLog(e) });
          // An expiry that keeps failing is counted for its alarm (ExpiryFailed): a log line alone would let access
          // outlive its end unnoticed but for IAM's own time condition. Other steps are counted, not alarmed.
          deps.metrics?.count(kind === 'EXPIRE' ? 'ExpiryFailed' : 'SweepStepFailed');
          try {
            await putOff(request, e);
          } catch (putOffError) {
            // It stays where it is and is tried again at the next tick: nothing is lost, it only waits in front.
            deps.logger.error('could not put off a failed sweep step', { requestId: request.id, step: kind, error: putOffError instanceof Error ? putOffError.message : String(putOffError) });
          }
          // The next page is read for the items behind a failure, but only for so many failures.
          if (++failed > batch) handled++;
        }
      }
      cursor = page.cursor;
    } while (cursor && handled < batch);
    if (cursor) report.more = true;
  };

  // Timeouts first: DynamoDB writes only, a batch of them takes well under a second, whereas expiries call
  // IAM and may use the whole run in a backlog, leaving requests past their deadline pending tick after tick.
  await run(
    'TIMEOUT',
    now,
    async (r) => {
      if (await timeOut(deps, r)) report.timedOut++;
    },
    (r, e) => retryLater(deps, 'TIMEOUT', r, e),
  );
  await run(
    'EXPIRE',
    now,
    async (r) => {
      if (await expire(deps, r)) report.expired++;
    },
    (r, e) => retryLater(deps, 'EXPIRE', r, e),
  );
  const stuckBefore = new Date(Date.parse(now) - (options.stuckAfterSeconds ?? 120) * 1000).toISOString();
  const provisioned = (result: ProvisionResult) => {
    if (result.outcome === 'active') report.provisioned++;
    if (result.outcome === 'failed') report.failed++;
  };
  await run(
    'PROVISION',
    stuckBefore,
    async (r) => {
      const result = await provisionRequest(deps, r.id, r);
      // Put off because this run stopped waiting for a busy grant to keep its time: counted and stopped as above.
      if (result.busy instanceof OutOfTimeError) throw result.busy;
      provisioned(result);
    },
    async (r, e) => provisioned(await recordUnexpectedProvisioningError(deps, r, e)),
  );
  deps.metrics?.milliseconds('SweepDuration', Date.now() - started);
  deps.metrics?.count('SweepItems', report.expired + report.timedOut + report.provisioned + report.failed);
  deps.logger.info('sweep finished', { ...report, errors: report.errors.length });
  return report;
}

/**
 * Expires one request; true when this sweep made the change. A concurrent
 * sweep (or a revoke) that ended it first leaves endAccess nothing to do,
 * which must not count as an expiry, so the commit of EXPIRED is watched.
 */
async function expire(deps: ProvisioningDeps, known: AccessRequest): Promise<boolean> {
  let committed = false;
  const store = deps.requests;
  const requests: RequestStore = {
    commit: async (write) => {
      await store.commit(write);
      if (write.request.id === known.id && write.request.status === 'EXPIRED') committed = true;
    },
    get: (id) => store.get(id),
    getDetail: (id) => store.getDetail(id),
    list: (query) => store.list(query),
    extensionsOf: (id) => store.extensionsOf(id),
    listDue: (kind, before, limit, cursor) => store.listDue(kind, before, limit, cursor),
    appendEvents: (events) => store.appendEvents(events),
    appendEventsWhileAt: (events, at) => store.appendEventsWhileAt(events, at),
    appendReport: (e, r) => store.appendReport(e, r),
    claimed: (claimant, key, at) => store.claimed(claimant, key, at),
  };
  await endAccess({ ...deps, requests }, known.id, 'EXPIRED', SYSTEM_ACTOR, undefined, known);
  return committed;
}

/**
 * Files a failed expiry or timeout for a later attempt, with backoff: the
 * request keeps its state and stays due, so it is retried (and counted and
 * logged) until it succeeds, but behind the work that fell due meanwhile.
 * Conditional on the version read: when the request moved on (a concurrent
 * sweep filed the same failure, a revoke ended it), its new state stands.
 */
async function retryLater(deps: ProvisioningDeps, kind: SweepRetry['kind'], request: AccessRequest, e: unknown): Promise<void> {
  const now = isoNow(deps.clock);
  const attempts = (request.sweepRetry?.kind === kind ? request.sweepRetry.attempts : 0) + 1;
  const delay = Math.min(RETRY_FIRST_MS * 2 ** Math.min(attempts - 1, 30), RETRY_MAX_MS) - RETRY_EARLY_MS;
  // On the request, which its requester, grantee and approvers read: rolegate's own words only. Any other
  // error's text (an SDK's names rolegate's roles, sessions and table) stays in the log line of the failure.
  const message = messageForUsers(e) ?? `an unexpected error (${IN_THE_SWEEPERS_LOG})`;
  const sweepRetry: SweepRetry = {
    kind,
    attempts,
    lastAttemptAt: now,
    lastError: message.length > MAX_ERROR_LENGTH ? `${message.slice(0, MAX_ERROR_LENGTH - 1)}…` : message,
    nextAttemptAt: new Date(Date.parse(now) + delay).toISOString(),
  };
  try {
    await deps.requests.commit({ request: { ...request, version: request.version + 1, sweepRetry }, expectedVersion: request.version, events: [] });
  } catch (error) {
    if (!(error instanceof StaleWriteError)) throw error;
    return;
  }
  deps.logger.warn('sweep step put off', { requestId: request.id, step: kind, attempts, nextAttemptAt: sweepRetry.nextAttemptAt });
}

/** A pending request past its decision deadline times out; a concurrent decision wins the race. */
async function timeOut(deps: ProvisioningDeps, known: AccessRequest): Promise<boolean> {
  let preread: AccessRequest | undefined = known;
  const result = await withOptimisticRetry(async () => {
    const current = preread ?? (await deps.requests.get(known.id));
    preread = undefined;
    const now = isoNow(deps.clock);
    if (!current || current.status !== 'PENDING' || current.decisionDeadline > now) return undefined;
    const next: AccessRequest = { ...current, version: current.version + 1, status: 'TIMED_OUT', updatedAt: now, endedAt: now };
    const event = audit.timedOut(current, { id: deps.ids.next(), at: now, actor: 'rolegate', comment: 'No decision before the deadline.', notify: 'request.timed_out' });
    await deps.requests.commit({ request: next, expectedVersion: current.version, events: [event] });
    return { next, event };
  });
  if (result) await announce(deps, result.next, result.event);
  return result !== undefined;
}
