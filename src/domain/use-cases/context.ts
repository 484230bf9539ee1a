import { audit } from '../audit';
import { StaleWriteError } from '../errors';
import type { AccessRequest } from '../model';
import type { Clock, Ids, Logger, Metrics, Notification, NotificationKind, Notifier, ProvisioningQueue, RequestStore } from '../ports';
import type { Settings } from '../settings';

/** What the request use-cases need; built once per cold start in src/compose.ts. */
export interface CoreDeps {
  settings: Settings;
  requests: RequestStore;
  clock: Clock;
  ids: Ids;
  notifier: Notifier;
  queue: ProvisioningQueue;
  logger: Logger;
  /** Absent in tests that do not look at metrics. */
  metrics?: Metrics;
}

export function isoNow(clock: Clock): string {
  return clock.now().toISOString();
}

export function addMinutes(iso: string, minutes: number): string {
  return new Date(Date.parse(iso) + minutes * 60_000).toISOString();
}

/**
 * Runs a read-decide-write step again when the store reports that the
 * request changed in between (another approver, a sweep). Each attempt
 * re-reads and re-checks every rule, so a retry can still end in a 409.
 */
export async function withOptimisticRetry<T>(attempt: () => Promise<T>, maxAttempts = 12): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await attempt();
    } catch (e) {
      if (!(e instanceof StaleWriteError) || i >= maxAttempts) throw e;
      // Spread contenders out a little so a crowd of approvers settles quickly.
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 5 * i)));
    }
  }
}

/**
 * Notifies after the state is committed. A failure is logged and audited and
 * never changes the request.
 */
export async function notifySafely(
  deps: Pick<CoreDeps, 'notifier' | 'requests' | 'ids' | 'clock' | 'logger'>,
  kind: NotificationKind,
  request: AccessRequest,
  actor: string,
  comment?: string,
): Promise<void> {
  const notification: Notification = { kind, request, actor, at: isoNow(deps.clock), ...(comment !== undefined ? { comment } : {}) };
  try {
    await deps.notifier.notify(notification);
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    deps.logger.warn('notification failed', { requestId: request.id, kind, reason });
    try {
      await deps.requests.appendEvents([
        audit.notificationFailed(request, { id: deps.ids.next(), at: isoNow(deps.clock), actor: 'rolegate', data: { kind, reason } }),
      ]);
    } catch (auditError) {
      deps.logger.error('could not audit a failed notification', { requestId: request.id, kind, error: String(auditError) });
    }
  }
}

/** Hands an approved request to the worker; if that fails the sweeper re-drives it from the due index. */
export async function enqueueSafely(deps: Pick<CoreDeps, 'queue' | 'logger'>, requestId: string): Promise<void> {
  try {
    await deps.queue.enqueue(requestId);
  } catch (e) {
    deps.logger.warn('could not hand the request to the provisioning worker; the sweeper will re-drive it', {
      requestId,
      reason: e instanceof Error ? e.message : String(e),
    });
  }
}
