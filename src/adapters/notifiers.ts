import type { Logger, Notification, Notifier } from '../domain/ports';

/** Sends to every notifier; reports all failures together after trying each. */
export class CompositeNotifier implements Notifier {
  constructor(private readonly notifiers: readonly Notifier[]) {}
  async notify(n: Notification): Promise<void> {
    const results = await Promise.allSettled(this.notifiers.map((x) => x.notify(n)));
    const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failures.length) {
      throw new Error(failures.map((f) => (f.reason instanceof Error ? f.reason.message : String(f.reason))).join('; '));
    }
  }
}

/** Writes each notification as a log line (the local run, and a trace in AWS). */
export class LogNotifier implements Notifier {
  constructor(private readonly logger: Logger) {}
  async notify(n: Notification): Promise<void> {
    this.logger.info('notification', { kind: n.kind, requestId: n.request.id, status: n.request.status, actor: n.actor });
  }
}
