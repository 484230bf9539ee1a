import { errorForLog } from '../domain/errors';
import type { Logger, ProvisioningQueue } from '../domain/ports';

/**
 * Deployed: the table's stream feeds the worker on every transition into
 * APPROVED, so enqueueing is nothing more than the commit itself.
 */
export const streamQueue: ProvisioningQueue = { enqueue: async () => undefined };

/**
 * Local run: the same worker runs in-process, after the HTTP response, so
 * approval never waits on IAM here either.
 */
export class InProcessQueue implements ProvisioningQueue {
  private readonly inFlight = new Set<Promise<void>>();
  constructor(
    private readonly work: (requestId: string) => Promise<unknown>,
    private readonly logger: Logger,
  ) {}
  async enqueue(requestId: string): Promise<void> {
    const p = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => this.work(requestId))
      .then(
        () => undefined,
        (e: unknown) => this.logger.error('in-process provisioning failed; the sweeper will re-drive it', { requestId, error: errorForLog(e) }),
      )
      .finally(() => this.inFlight.delete(p));
    this.inFlight.add(p);
  }
  /** Resolves when every queued job has finished (tests, shutdown). */
  async drain(): Promise<void> {
    while (this.inFlight.size) await Promise.all([...this.inFlight]);
  }
}
