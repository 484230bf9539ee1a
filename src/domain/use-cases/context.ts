import { audit } from '../audit';
import { StaleWriteError } from '../errors';
import type { AccessRequest, AuditEvent } from '../model';
import type { Clock, Ids, Logger, Metrics, Notification, Notifier, ProvisioningQueue, RequestStore } from '../ports';
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
  /**
   * Who sends the notification an audit event carries: `inline` (the local run, tests) sends it
   * right after the commit; `stream` (deployed) leaves it to the worker, which reads it from the
   * table's stream, so a crash or a slow receiver after the commit loses nothing and never
   * holds up the caller. Default inline.
   */
  notifications?: 'inline' | 'stream';
}

export function isoNow(clock: Clock): string {
  return clock.now().toISOString();
}

export function addMinutes(iso: string, minutes: number): string {
  return new Date(Date.parse(iso) + minutes * 60_000).toISOString();
}

/**
 * Runs a read-decide-write step again when the store reports that the
 * request changed in between (another approver, a sweep). Each retry works
 * on the request as stored (read again, or as the refused write found it:
 * never on a snapshot from memory) and re-checks every rule, so a retry can
 * still end in a 409.
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

type NotifyDeps = Pick<CoreDeps, 'notifier' | 'requests' | 'ids' | 'clock' | 'logger' | 'metrics'>;

/**
 * After a commit: sends the notification its audit event carries, unless
 * the worker sends it from the table's stream (deployed).
 */
export async function announce(deps: NotifyDeps & Pick<CoreDeps, 'notifications'>, request: AccessRequest, event: AuditEvent): Promise<void> {
  if (!event.notify || deps.notifications === 'stream') return;
  await deliverNotification(deps, request, event);
}

/** Sends the notification an audit event carries (the worker, from the stream; or in-line). */
export async function deliverNotification(deps: NotifyDeps, request: AccessRequest, event: AuditEvent): Promise<void> {
  if (!event.notify) return;
  // A request's reason is shown as the request's own; any other event's comment goes with it.
  const comment = event.action === 'REQUESTED' ? undefined : event.comment;
  await notifySafely(deps, { id: event.id, kind: event.notify, action: event.action, request, actor: event.actor, at: event.at, ...(comment !== undefined ? { comment } : {}) });
}

/** What the audit trail says of a notification that was not delivered; the log says why. */
const NOTIFICATION_FAILED_REASON = "not delivered (the log holds why, under this request's id)";

/**
 * A failure is logged, counted (NotificationFailed, alarmed: a bad bot token
 * or webhook would otherwise leave approvers unaware of every request with
 * nobody told) and audited, and never changes the request.
 */
async function notifySafely(deps: NotifyDeps, notification: Notification): Promise<void> {
  const { kind, request } = notification;
  try {
    await deps.notifier.notify(notification);
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    deps.logger.warn('notification failed', { requestId: request.id, kind, reason });
    // Before the audit, which may fail too.
    deps.metrics?.count('NotificationFailed');
    try {
      await deps.requests.appendEvents([
        // The reason stays in the log line above: it may name webhook receivers, secret parameters or an SDK's
        // view of rolegate's roles and table, and the requester and grantee read this event.
        audit.notificationFailed(request, { id: deps.ids.next(), at: isoNow(deps.clock), actor: 'rolegate', data: { kind, reason: NOTIFICATION_FAILED_REASON } }),
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
