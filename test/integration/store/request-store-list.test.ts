import { ValidationError } from '../../../src/domain/errors';
import type { AccessRequest } from '../../../src/domain/model';
import type { Page } from '../../../src/domain/ports';
import { countReads } from '../../helpers/read-counter';
import { alice, aRequest, bob, creation, inBatches, minutes, storeTable, type StoreTable } from '../../helpers/store-fixtures';

/* DynamoRequestStore.list against the real DynamoDB Local engine: the byStatus and byPrincipal indexes, newest first, with cursors. */

let t: StoreTable;
beforeEach(async () => {
  t = await storeTable();
});
afterEach(async () => {
  await t.drop();
});

/** Creates one request per override, each a minute newer than the previous. */
async function createAll(overrides: Partial<AccessRequest>[]): Promise<AccessRequest[]> {
  const requests = overrides.map((o, i) => aRequest({ createdAt: minutes(i), ...o }));
  await inBatches(requests, 10, (r) => t.requests.commit(creation(r)));
  return requests;
}

const newestFirst = (requests: AccessRequest[]) => [...requests].sort((a, b) => b.createdAt.localeCompare(a.createdAt)).map((r) => r.id);

describe('listing by status', () => {
  it('returns one status newest first across three pages, with no duplicates and none missing', async () => {
    // Arrange
    const requests = await createAll(Array.from({ length: 32 }, (_, i) => ({ status: i % 4 === 3 ? 'DENIED' : 'PENDING' })));
    const pending = requests.filter((r) => r.status === 'PENDING');

    // Act
    const pages: Page<AccessRequest>[] = [];
    let cursor: string | undefined;
    do {
      const page = await t.requests.list({ status: 'PENDING', limit: 10, ...(cursor ? { cursor } : {}) });
      pages.push(page);
      cursor = page.cursor;
    } while (cursor && pages.length < 10);

    // Assert
    expect(pages.map((p) => p.items.length)).toEqual([10, 10, 4]);
    expect(pages.flatMap((p) => p.items.map((r) => r.id))).toEqual(newestFirst(pending));
    expect(pages[2]!.cursor).toBeUndefined();
  });

  it('returns plain requests, without the index attributes', async () => {
    // Arrange
    const [request] = await createAll([{ status: 'PENDING' }]);

    // Act
    const page = await t.requests.list({ status: 'PENDING', limit: 5 });

    // Assert
    expect(page).toStrictEqual({ items: [request] });
  });
});

describe('listing by requester', () => {
  it("returns a requester's requests newest first, whatever the case of the ARN, and nobody else's", async () => {
    // Arrange
    const requests = await createAll([
      { requester: alice, status: 'PENDING' },
      { requester: bob, status: 'PENDING' },
      { requester: alice, status: 'DENIED' },
      { requester: alice.toUpperCase().replace('ARN:AWS:IAM', 'arn:aws:iam'), status: 'ACTIVE' },
      { requester: bob, status: 'ACTIVE' },
    ]);
    const alices = requests.filter((r) => r.requester.toLowerCase() === alice.toLowerCase());

    // Act
    const page = await t.requests.list({ requester: alice, limit: 10 });

    // Assert
    expect(page.items.map((r) => r.id)).toEqual(newestFirst(alices));
    expect(page.cursor).toBeUndefined();
  });

  it("filters a requester's requests by status, filling each page up to the limit and continuing exactly after it", async () => {
    // Arrange
    const requests = await createAll(Array.from({ length: 12 }, (_, i) => ({ requester: alice, status: i % 3 === 0 ? 'PENDING' : 'DENIED' })));
    const pending = requests.filter((r) => r.status === 'PENDING');

    // Act
    const first = await t.requests.list({ requester: alice, status: 'PENDING', limit: 3 });
    const second = await t.requests.list({ requester: alice, status: 'PENDING', limit: 3, cursor: first.cursor! });

    // Assert
    expect(first.items).toHaveLength(3);
    expect([...first.items, ...second.items].map((r) => r.id)).toEqual(newestFirst(pending));
    expect(second.items.every((r) => r.status === 'PENDING')).toBe(true);
  });

  it('ends a filtered page short, with a cursor, rather than read a long history whole in one call', async () => {
    // Arrange: 25 requests, the oldest alone PENDING; newest first, a page of one reads one index item per query.
    const requests = await createAll(Array.from({ length: 25 }, (_, i) => ({ requester: alice, status: i === 0 ? 'PENDING' : 'DENIED' })));
    const reads = countReads(t.requests.doc);

    // Act
    const first = await t.requests.list({ requester: alice, status: 'PENDING', limit: 1 });
    const queriesForFirst = reads.calls.QueryCommand;
    const second = await t.requests.list({ requester: alice, status: 'PENDING', limit: 1, cursor: first.cursor! });

    // Assert
    expect(first.items).toEqual([]);
    expect(first.cursor).toEqual(expect.any(String));
    expect(queriesForFirst).toBe(20);
    expect(second.items.map((r) => r.id)).toEqual([requests[0]!.id]);
  });
});

describe('refused listings', () => {
  it('refuses a listing with neither a status nor a requester', async () => {
    // Act
    const attempt = t.requests.list({ limit: 10 });

    // Assert
    await expect(attempt).rejects.toThrow(new ValidationError('Filter by status or by requester.'));
    await expect(attempt).rejects.toBeInstanceOf(ValidationError);
  });

  /** A byStatus cursor as the store issues it, with some attributes replaced. */
  const forged = (change: Record<string, string>) =>
    Buffer.from(
      JSON.stringify({ pk: 'REQ#01JREQUEST0000000000000000', sk: '#REQUEST', gsi1pk: 'STATUS#PENDING', gsi1sk: '2026-03-02T09:00:00.000Z#01JREQUEST0000000000000000', ...change }),
    ).toString('base64url');

  it('accepts a well-formed cursor for the listing it names', async () => {
    await expect(t.requests.list({ status: 'PENDING', limit: 10, cursor: forged({}) })).resolves.toMatchObject({ items: expect.any(Array) });
  });

  it.each([
    ['not base64 JSON', () => 'not-a-cursor!'],
    ['JSON of the wrong shape', () => Buffer.from(JSON.stringify({ pk: 'REQ#x' })).toString('base64url')],
    ['a JSON array', () => Buffer.from('[1,2]').toString('base64url')],
    // Right attributes and partition, but key values DynamoDB itself would reject (a 500 before):
    ['one with empty key values', () => forged({ pk: '', gsi1sk: '' })],
    ['one with a sort key past DynamoDB\'s 1,024 bytes', () => forged({ gsi1sk: `2026-03-02T09:00:00.000Z#${'A'.repeat(1100)}`, pk: `REQ#${'A'.repeat(1100)}` })],
    ['one whose sort key names another request', () => forged({ gsi1sk: '2026-03-02T09:00:00.000Z#01OTHERREQUEST000000000000' })],
    ['one whose sort key is not a time', () => forged({ gsi1sk: 'yesterday#01JREQUEST0000000000000000' })],
  ])('refuses a cursor that is %s', async (_label, make) => {
    // Act
    const attempt = t.requests.list({ status: 'PENDING', limit: 10, cursor: make() });

    // Assert
    await expect(attempt).rejects.toBeInstanceOf(ValidationError);
    await expect(attempt).rejects.toMatchObject({ message: 'The cursor is not valid.', details: [{ field: 'cursor', reason: expect.any(String) }] });
  });

  it('refuses a cursor issued for another listing (another status, or the requester index)', async () => {
    // Arrange
    await createAll(Array.from({ length: 3 }, () => ({ requester: alice, status: 'PENDING' })));
    const byStatus = await t.requests.list({ status: 'PENDING', limit: 1 });
    const byRequester = await t.requests.list({ requester: alice, limit: 1 });

    // Act
    const outcomes = await Promise.allSettled([
      t.requests.list({ status: 'ACTIVE', limit: 1, cursor: byStatus.cursor! }),
      t.requests.list({ requester: alice, limit: 1, cursor: byStatus.cursor! }),
      t.requests.list({ requester: bob, limit: 1, cursor: byRequester.cursor! }),
      t.requests.listDue('TIMEOUT', minutes(10_000), 1, byStatus.cursor!),
    ]);

    // Assert
    for (const outcome of outcomes) {
      expect(outcome).toMatchObject({ status: 'rejected', reason: { code: 'VALIDATION_FAILED', message: 'The cursor is not valid.' } });
    }
  });

  it('refuses a limit below one instead of sending DynamoDB a query it rejects', async () => {
    // Act
    const attempt = t.requests.list({ status: 'PENDING', limit: 0 });

    // Assert
    await expect(attempt).rejects.toMatchObject({ code: 'VALIDATION_FAILED', details: [{ field: 'limit', reason: expect.any(String) }] });
  });
});
