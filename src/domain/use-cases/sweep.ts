import { audit } from '../audit';
import type { AccessRequest } from '../model';
import type { DueKind } from '../ports';
import { announce, isoNow, withOptimisticRetry } from './context';
import { endAccess } from './endAccess';
import { provisionRequest, type ProvisioningDeps } from './provisionRequest';

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

/**
 * One pass of the scheduled sweeper: times out pending requests past their
 * deadline, expires access past its end, re-drives stuck provisioning. Due
 * work is read from the due index, never by scanning, so the cost follows
 * the work that is due. Each item is handled on its own: one failure does
 * not stop the others, and conditional transitions make concurrent sweeps safe.
 */
export async function sweep(deps: ProvisioningDeps, options: SweepOptions = {}): Promise<SweepReport> {
  const batch = options.batchSize ?? 50;
  const stop = options.shouldStop ?? (() => false);
  const report: SweepReport = { timedOut: 0, expired: 0, provisioned: 0, failed: 0, errors: [], more: false };
  const now = isoNow(deps.clock);
  const started = Date.now();

  const run = async (kind: DueKind, before: string, step: (r: AccessRequest) => Promise<void>) => {
    const page = await deps.requests.listDue(kind, before, batch);
    for (const request of page.items) {
      if (stop()) {
        report.more = true;
        return;
      }
      try {
        await step(request);
      } catch (e) {
        const error = e instanceof Error ? e.message : String(e);
        report.errors.push({ requestId: request.id, step: kind, error });
        deps.logger.warn('sweep step failed; it will be retried at the next tick', { requestId: request.id, step: kind, error });
        // Counted so an alarm sees an expiry (or timeout, or provisioning) that keeps failing:
        // a log line alone would let access outlive its end unnoticed but for IAM's own time condition.
        deps.metrics?.count(kind === 'EXPIRE' ? 'ExpiryFailed' : 'SweepStepFailed');
      }
    }
    if (page.cursor) report.more = true;
  };

  await run('EXPIRE', now, async (r) => {
    await endAccess(deps, r.id, 'EXPIRED', 'rolegate', undefined, r);
    report.expired++;
  });
  await run('TIMEOUT', now, async (r) => {
    if (await timeOut(deps, r)) report.timedOut++;
  });
  const stuckBefore = new Date(Date.parse(now) - (options.stuckAfterSeconds ?? 120) * 1000).toISOString();
  await run('PROVISION', stuckBefore, async (r) => {
    const result = await provisionRequest(deps, r.id, r);
    if (result.outcome === 'active') report.provisioned++;
    if (result.outcome === 'failed') report.failed++;
  });
  deps.metrics?.milliseconds('SweepDuration', Date.now() - started);
  deps.metrics?.count('SweepItems', report.expired + report.timedOut + report.provisioned + report.failed);
  deps.logger.info('sweep finished', { ...report, errors: report.errors.length });
  return report;
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
