import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { AccessRequest } from '../../../src/domain/model';
import type { Page } from '../../../src/domain/ports';
import { aRequest, creation, inBatches, minutes, recordReads, storeTable, T0, transition, type StoreTable } from '../../helpers/store-fixtures';

/*
 * DynamoRequestStore.listDue against the real DynamoDB Local engine: the
 * sparse byDue index, read with a key condition only, never a scan.
 */

let t: StoreTable;
beforeEach(async () => {
  t = await storeTable();
});
afterEach(async () => {
  await t.drop();
});

async function createAll(requests: AccessRequest[]): Promise<AccessRequest[]> {
  await inBatches(requests, 10, (r) => t.requests.commit(creation(r)));
  return requests;
}

/** A request created in status `status` (the store does not judge transitions), with fields set for the due index. */
const inStatus = (status: AccessRequest['status'], overrides: Partial<AccessRequest> = {}) => aRequest({ status, createdAt: minutes(-120), ...overrides });

describe('listing due work', () => {
  it('returns only the due items of the asked kind, oldest due first, strictly before the given instant', async () => {
    // Arrange
    const now = T0;
    const [late2, late1] = await createAll([
      inStatus('PENDING', { decisionDeadline: minutes(-2) }),
      inStatus('PENDING', { decisionDeadline: minutes(-1) }),
      inStatus('PENDING', { decisionDeadline: now }),
      inStatus('PENDING', { decisionDeadline: minutes(1) }),
    ]);
    const [expired, _stillActive] = await createAll([inStatus('ACTIVE', { endsAt: minutes(-5) }), inStatus('ACTIVE', { endsAt: minutes(30) })]);
    // A FAILED request waits for an approver's retry, which makes it APPROVED again.
    const [approved, retried, _failed, _denied] = await createAll([
      inStatus('APPROVED', { updatedAt: minutes(-10) }),
      inStatus('APPROVED', { updatedAt: minutes(-20) }),
      inStatus('FAILED', { updatedAt: minutes(-30) }),
      inStatus('DENIED', { updatedAt: minutes(-40), decisionDeadline: minutes(-40) }),
    ]);

    // Act
    const [timeouts, expiries, provisioning] = await Promise.all([
      t.requests.listDue('TIMEOUT', now, 50),
      t.requests.listDue('EXPIRE', now, 50),
      t.requests.listDue('PROVISION', now, 50),
    ]);

    // Assert
    expect(timeouts).toStrictEqual({ items: [late2, late1] });
    expect(expiries).toStrictEqual({ items: [expired] });
    expect(provisioning).toStrictEqual({ items: [retried, approved] });
  });

  it('reads the instant in any ISO-8601 form: an item due exactly then is not yet due, one a millisecond before is', async () => {
    // Arrange
    const [, justBefore] = await createAll([
      inStatus('PENDING', { decisionDeadline: '2026-03-02T09:00:00.000Z' }),
      inStatus('PENDING', { decisionDeadline: '2026-03-02T08:59:59.999Z' }),
    ]);

    // Act: one instant, written three ways ('…:00Z' sorts after '…:00.000Z' as text, and would admit the first).
    const pages = await Promise.all(['2026-03-02T09:00:00Z', '2026-03-02T10:00:00+01:00', '2026-03-02T09:00:00.000Z'].map((at) => t.requests.listDue('TIMEOUT', at, 10)));

    // Assert
    for (const page of pages) expect(page.items.map((r) => r.id)).toEqual([justBefore!.id]);
  });

  it('pages through due items with a cursor, oldest first, with no duplicates and none missing', async () => {
    // Arrange
    const due = await createAll(Array.from({ length: 7 }, (_, i) => inStatus('ACTIVE', { endsAt: minutes(-100 + i * 7) })));

    // Act
    const pages: Page<AccessRequest>[] = [];
    let cursor: string | undefined;
    do {
      const page = await t.requests.listDue('EXPIRE', T0, 3, cursor);
      pages.push(page);
      cursor = page.cursor;
    } while (cursor && pages.length < 10);

    // Assert
    expect(pages.map((p) => p.items.length)).toEqual([3, 3, 1]);
    expect(pages.flatMap((p) => p.items.map((r) => r.id))).toEqual(due.map((r) => r.id));
  });

  it('drops a request from the due index when it moves to a terminal status', async () => {
    // Arrange
    const [pending, active] = await createAll([inStatus('PENDING', { decisionDeadline: minutes(-1) }), inStatus('ACTIVE', { endsAt: minutes(-1) })]);
    const before = await Promise.all([t.requests.listDue('TIMEOUT', T0, 10), t.requests.listDue('EXPIRE', T0, 10)]);

    // Act
    await t.requests.commit(transition(pending!, { status: 'TIMED_OUT' }, { action: 'TIMED_OUT', actor: 'rolegate' }));
    await t.requests.commit(transition(active!, { status: 'EXPIRED', endedAt: T0 }, { action: 'EXPIRED', actor: 'rolegate' }));

    // Assert
    expect(before.map((p) => p.items.map((r) => r.id))).toEqual([[pending!.id], [active!.id]]);
    expect(await t.requests.listDue('TIMEOUT', minutes(10_000), 10)).toStrictEqual({ items: [] });
    expect(await t.requests.listDue('EXPIRE', minutes(10_000), 10)).toStrictEqual({ items: [] });
    for (const r of [pending!, active!]) {
      const raw = await t.doc.send(new GetCommand({ TableName: t.tableName, Key: { pk: `REQ#${r.id}`, sk: '#REQUEST' } }));
      expect(raw.Item).not.toHaveProperty('duepk');
      expect(raw.Item).not.toHaveProperty('duesk');
    }
  });

  it('moves a request between due kinds as its status changes: approved, then active', async () => {
    // Arrange
    const [pending] = await createAll([inStatus('PENDING', { decisionDeadline: minutes(-1) })]);
    const approve = transition(pending!, { status: 'APPROVED', approvedAt: minutes(-3), endsAt: minutes(-2) }, { at: minutes(-3) });
    await t.requests.commit(approve);

    // Act
    const afterApproval = await Promise.all([t.requests.listDue('TIMEOUT', T0, 10), t.requests.listDue('PROVISION', T0, 10)]);
    await t.requests.commit(transition(approve.request, { status: 'ACTIVE' }, { at: minutes(-2.5), action: 'PROVISIONED' }));
    const afterProvisioning = await Promise.all([t.requests.listDue('PROVISION', T0, 10), t.requests.listDue('EXPIRE', T0, 10)]);

    // Assert
    expect(afterApproval.map((p) => p.items.map((r) => r.id))).toEqual([[], [pending!.id]]);
    expect(afterProvisioning.map((p) => p.items.map((r) => r.id))).toEqual([[], [pending!.id]]);
  });

  it('reads only due items, with a query on the due index, when most requests are not due', async () => {
    // Arrange
    const notDue = [
      ...Array.from({ length: 120 }, () => inStatus('DENIED')),
      ...Array.from({ length: 60 }, () => inStatus('EXPIRED', { endsAt: minutes(-60) })),
      ...Array.from({ length: 60 }, (_, i) => inStatus('ACTIVE', { endsAt: minutes(10 + i) })),
    ];
    const due = Array.from({ length: 5 }, (_, i) => inStatus('ACTIVE', { endsAt: minutes(-50 + i) }));
    await createAll([...notDue, ...due]);
    const reads = recordReads(t.doc);

    // Act
    const page = await t.requests.listDue('EXPIRE', T0, 50);

    // Assert
    expect(page.items.map((r) => r.id)).toEqual(due.map((r) => r.id));
    expect(reads).toEqual([{ command: 'QueryCommand', indexName: 'byDue', count: 5, scannedCount: 5 }]);
  });

  it('files an expiry or timeout the sweeper failed at under its next attempt, never earlier than it is due', async () => {
    // Arrange
    const retry = (kind: 'EXPIRE' | 'TIMEOUT', nextAttemptAt: string) => ({ kind, attempts: 1, lastAttemptAt: minutes(-3), lastError: 'AccessDenied', nextAttemptAt });
    const [putOff, dueBehindIt, notBeforeItsEnd, otherKind] = await createAll([
      inStatus('ACTIVE', { endsAt: minutes(-10), sweepRetry: retry('EXPIRE', minutes(-2)) }),
      inStatus('ACTIVE', { endsAt: minutes(-5) }),
      inStatus('ACTIVE', { endsAt: minutes(-1), sweepRetry: retry('EXPIRE', minutes(-20)) }),
      inStatus('ACTIVE', { endsAt: minutes(-4), sweepRetry: retry('TIMEOUT', minutes(30)) }),
    ]);
    const [waiting] = await createAll([inStatus('ACTIVE', { endsAt: minutes(-30), sweepRetry: retry('EXPIRE', minutes(2)) })]);
    const [timeout] = await createAll([inStatus('PENDING', { decisionDeadline: minutes(-10), sweepRetry: retry('TIMEOUT', minutes(5)) })]);

    // Act
    const [expiries, timeouts, later] = await Promise.all([t.requests.listDue('EXPIRE', T0, 50), t.requests.listDue('TIMEOUT', T0, 50), t.requests.listDue('EXPIRE', minutes(3), 50)]);

    // Assert
    expect(expiries.items.map((r) => r.id)).toEqual([dueBehindIt, otherKind, putOff, notBeforeItsEnd].map((r) => r!.id));
    expect(timeouts.items).toEqual([]);
    expect(later.items.map((r) => r.id)).toEqual([dueBehindIt, otherKind, putOff, notBeforeItsEnd, waiting].map((r) => r!.id));
    expect((await t.requests.listDue('TIMEOUT', minutes(6), 50)).items.map((r) => r.id)).toEqual([timeout!.id]);
  });
});
