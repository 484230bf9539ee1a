import { sweep } from '../../../src/domain/use-cases/sweep';
import { harness, type Harness } from '../../helpers/harness';
import { countReads } from '../../helpers/read-counter';
import { seedActive } from '../../helpers/seed';

describe('the cost of a sweep follows the due work, not the live grants', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness();
  }, 120_000);
  afterAll(async () => {
    await h.close();
  });

  it('reads about 100 items for 100 due among 10,000 live grants', async () => {
    await seedActive(h.requests.doc, h.tableName, 10_000, () => '2026-03-02T12:00:00.000Z', 'L');
    const due = await seedActive(h.requests.doc, h.tableName, 100, (i) => `2026-03-02T08:${String(10 + (i % 50)).padStart(2, '0')}:00.000Z`, 'D', { grants: h.deps.settings.provisioner.mode });
    const reads = countReads(h.requests.doc);

    const report = await sweep(h.deps, { batchSize: 100 });

    expect(report.expired).toBe(100);
    expect(report.errors).toEqual([]);
    expect(reads.items).toBeGreaterThanOrEqual(100);
    expect(reads.items).toBeLessThanOrEqual(110);
    expect(reads.calls.ScanCommand).toBeUndefined();
    // Every due one is stored EXPIRED, not only counted so by the sweep's own report.
    const statuses = await Promise.all(due.map(async (id) => (await h.requests.get(id))!.status));
    expect(statuses).toEqual(due.map(() => 'EXPIRED'));
  }, 120_000);
});
