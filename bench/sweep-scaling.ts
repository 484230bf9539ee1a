import { sweep } from '../src/domain/use-cases/sweep';
import type { RunningDynamo } from '../src/local/dynamodb-local';
import { countReads } from '../test/helpers/read-counter';
import { seedActive } from '../test/helpers/seed';
import { benchDeps } from './env';

export interface SweepRow {
  live: number;
  due: number;
  itemsRead: number;
  readsPerDue: number;
  /** Items writes handed back: each expiry's lease (an UpdateItem) returns its grant item. */
  returnedByWrites: number;
  sweepMs: number;
}

/** A sweep over `live` live grants with 100 due: items read and time. */
export async function sweepScaling(dynamo: RunningDynamo, liveCounts: number[], due = 100): Promise<SweepRow[]> {
  const rows: SweepRow[] = [];
  for (const live of liveCounts) {
    const { deps, doc, tableName, client } = await benchDeps(dynamo);
    const future = new Date(Date.now() + 3600_000).toISOString();
    const past = new Date(Date.now() - 60_000).toISOString();
    await seedActive(doc, tableName, live, () => future, 'L');
    // The due ones with their grant items, as provisioning leaves them: what each expiry takes the lease on.
    await seedActive(doc, tableName, due, () => past, 'D', { grants: deps.settings.provisioner.mode });
    const reads = countReads(doc);
    const t = performance.now();
    const report = await sweep(deps, { batchSize: due });
    const sweepMs = performance.now() - t;
    if (report.expired !== due) throw new Error(`expected ${due} expiries, got ${report.expired}: ${JSON.stringify(report.errors.slice(0, 3))}`);
    rows.push({ live, due, itemsRead: reads.items, readsPerDue: reads.items / due, returnedByWrites: reads.returnedByWrites, sweepMs });
    client.destroy();
  }
  return rows;
}
