import { createDocumentClient } from '../../src/adapters/dynamodb/client';
import { DynamoGrantStore } from '../../src/adapters/dynamodb/grant-store';
import { DynamoRequestStore } from '../../src/adapters/dynamodb/request-store';
import { MemoryLogger } from '../../src/adapters/logger';
import { MemoryMetrics } from '../../src/adapters/metrics';
import { ulidIds } from '../../src/adapters/system';
import { RecordingIdentityGranter, RecordingProvisioner } from './recording-provisioner';
import type { Clock, IdentityGranter, Notification, Notifier, Provisioner, ProvisioningQueue } from '../../src/domain/ports';
import type { Settings } from '../../src/domain/settings';
import type { ProvisioningDeps } from '../../src/domain/use-cases/provisionRequest';
import { httpApp } from '../../src/handlers/http/app';
import { identityOptionsFor } from '../../src/handlers/http/middlewares';
import { routes } from '../../src/handlers/http/routes';
import { freshTable } from './dynamo';
import { exampleSettings } from './settings';

/** A clock the test moves by hand. */
export class FixedClock implements Clock {
  constructor(public current = new Date('2026-03-02T09:00:00.000Z')) {}
  now(): Date {
    return new Date(this.current);
  }
  advance(ms: number): void {
    this.current = new Date(this.current.getTime() + ms);
  }
  set(iso: string): void {
    this.current = new Date(iso);
  }
}

export class RecordingNotifier implements Notifier {
  readonly sent: Notification[] = [];
  failure: Error | undefined;
  async notify(n: Notification): Promise<void> {
    if (this.failure) throw this.failure;
    this.sent.push(n);
  }
}

export class RecordingQueue implements ProvisioningQueue {
  readonly ids: string[] = [];
  async enqueue(id: string): Promise<void> {
    this.ids.push(id);
  }
}

export interface Harness {
  deps: ProvisioningDeps;
  clock: FixedClock;
  notifier: RecordingNotifier;
  queue: RecordingQueue;
  logger: MemoryLogger;
  metrics: MemoryMetrics;
  tableName: string;
  requests: DynamoRequestStore;
  grants: DynamoGrantStore;
  /** The HTTP API through its whole middy chain. */
  api: ReturnType<typeof httpApp>;
  close(): Promise<void>;
}

/** Use-cases wired to a fresh table on the real DynamoDB Local engine. */
export async function harness(options: { settings?: Settings; provisioner?: Provisioner; identity?: IdentityGranter; localIdentity?: boolean } = {}): Promise<Harness> {
  const table = await freshTable();
  const doc = createDocumentClient(table.client);
  const settings = options.settings ?? exampleSettings();
  const clock = new FixedClock();
  const notifier = new RecordingNotifier();
  const queue = new RecordingQueue();
  const logger = new MemoryLogger();
  const metrics = new MemoryMetrics();
  const requests = new DynamoRequestStore(doc, table.tableName);
  const grants = new DynamoGrantStore(doc, table.tableName);
  const deps: ProvisioningDeps = {
    settings,
    requests,
    grants,
    clock,
    ids: ulidIds(),
    notifier,
    queue,
    logger,
    metrics,
    provisioner: options.provisioner ?? new RecordingProvisioner(),
    identity: options.identity ?? new RecordingIdentityGranter(),
    // Real but short waits, so contenders for a lease take turns quickly.
    lease: { attempts: 400, sleep: (ms: number) => new Promise((r) => setTimeout(r, Math.min(ms, 10))) },
  };
  const api = httpApp(routes, () => deps, logger, identityOptionsFor(settings, options.localIdentity ?? false));
  return { deps, clock, notifier, queue, logger, metrics, tableName: table.tableName, requests, grants, api, close: table.drop };
}
