import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { ConflictError } from '../../../src/domain/errors';
import type { Grant } from '../../../src/domain/model';
import { aGrant, inBatches, minutes, recordReads, storeTable, T0, type StoreTable } from '../../helpers/store-fixtures';

/* DynamoGrantStore against the real DynamoDB Local engine: grants and the lease that serialises changes to one grant key. */

let t: StoreTable;
beforeEach(async () => {
  t = await storeTable();
});
afterEach(async () => {
  await t.drop();
});

const key = '222222222222#rolegate-ReadOnly-alice';
const otherKey = '222222222222#rolegate-ReadOnly-bob';
const rawItem = async (grantKey: string) => {
  const [accountId, roleName] = grantKey.split('#');
  const out = await t.doc.send(new GetCommand({ TableName: t.tableName, Key: { pk: `GRANT#${accountId}`, sk: `ROLE#${roleName}` }, ConsistentRead: true }));
  return out.Item;
};
const grantFor = (grantKey: string, overrides: Partial<Grant> = {}) => {
  const [accountId, roleName] = grantKey.split('#') as [string, string];
  return aGrant({ grantKey, accountId, roleName, ...overrides });
};

describe('taking the lease', () => {
  it('takes the lease on a new grant key and reports that there is no grant yet', async () => {
    // Act
    const lease = await t.grants.acquire(key, 'worker-a', minutes(2), T0);

    // Assert
    expect(lease).toStrictEqual({ grantKey: key, owner: 'worker-a', until: minutes(2), grant: undefined });
    expect(await t.grants.get(key)).toBeUndefined();
  });

  it('refuses the lease to a second owner while the first one holds it', async () => {
    // Arrange
    await t.grants.acquire(key, 'worker-a', minutes(2), T0);

    // Act
    const lease = await t.grants.acquire(key, 'worker-b', minutes(3), minutes(1));

    // Assert
    expect(lease).toBeUndefined();
    expect(await rawItem(key)).toMatchObject({ leaseOwner: 'worker-a', leaseUntil: minutes(2) });
  });

  it('gives the lease to exactly one of many owners asking at once', async () => {
    // Arrange
    const owners = Array.from({ length: 20 }, (_, i) => `worker-${i}`);

    // Act
    const leases = await Promise.all(owners.map((owner) => t.grants.acquire(key, owner, minutes(2), T0)));

    // Assert
    const held = leases.filter((l) => l !== undefined);
    expect(held).toHaveLength(1);
    expect(await rawItem(key)).toMatchObject({ leaseOwner: held[0]!.owner });
  });

  it('lets the holder take its own lease again, extending it', async () => {
    // Arrange
    await t.grants.acquire(key, 'worker-a', minutes(2), T0);

    // Act
    const lease = await t.grants.acquire(key, 'worker-a', minutes(5), minutes(1));

    // Assert
    expect(lease).toMatchObject({ owner: 'worker-a', until: minutes(5) });
    expect(await rawItem(key)).toMatchObject({ leaseOwner: 'worker-a', leaseUntil: minutes(5) });
  });

  it('lets another owner take over a lease that has lapsed, with the grant as stored', async () => {
    // Arrange
    const first = await t.grants.acquire(key, 'worker-a', minutes(2), T0);
    const grant = grantFor(key);
    await t.grants.save(first!, grant);

    // Act
    const second = await t.grants.acquire(key, 'worker-b', minutes(5), minutes(3));

    // Assert
    expect(second).toStrictEqual({ grantKey: key, owner: 'worker-b', until: minutes(5), grant });
  });
});

describe('changing a grant under the lease', () => {
  it('saves a grant that reads back whole, without lease or key attributes, and keeps the lease held', async () => {
    // Arrange
    const lease = await t.grants.acquire(key, 'worker-a', minutes(2), T0);
    const grant = grantFor(key);

    // Act
    await t.grants.save(lease!, grant);

    // Assert
    expect(await t.grants.get(key)).toStrictEqual(grant);
    expect(lease!.grant).toStrictEqual(grant);
    expect(await t.grants.acquire(key, 'worker-b', minutes(3), minutes(1))).toBeUndefined();
  });

  it('refuses to save once another owner has taken over the lapsed lease, and keeps the newer grant', async () => {
    // Arrange
    const stale = await t.grants.acquire(key, 'worker-a', minutes(2), T0);
    const current = await t.grants.acquire(key, 'worker-b', minutes(5), minutes(3));
    const newer = grantFor(key, { version: 1, members: { 'req-b': minutes(60) } });
    await t.grants.save(current!, newer);

    // Act
    const attempt = t.grants.save(stale!, grantFor(key, { version: 1, members: { 'req-a': minutes(60) } }));

    // Assert
    await expect(attempt).rejects.toBeInstanceOf(ConflictError);
    await expect(attempt).rejects.toThrow(`The lease on grant ${key} was lost; another worker took it over.`);
    expect(await t.grants.get(key)).toStrictEqual(newer);
  });

  it('removes the grant under the lease, leaving nothing behind', async () => {
    // Arrange
    const lease = await t.grants.acquire(key, 'worker-a', minutes(2), T0);
    await t.grants.save(lease!, grantFor(key));

    // Act
    await t.grants.remove(lease!);

    // Assert
    expect(await rawItem(key)).toBeUndefined();
    expect(lease!.grant).toBeUndefined();
  });

  it('refuses to remove once another owner has taken over the lapsed lease, and keeps the grant', async () => {
    // Arrange
    const stale = await t.grants.acquire(key, 'worker-a', minutes(2), T0);
    await t.grants.save(stale!, grantFor(key));
    const current = await t.grants.acquire(key, 'worker-b', minutes(5), minutes(3));

    // Act
    const attempt = t.grants.remove(stale!);

    // Assert
    await expect(attempt).rejects.toThrow(new ConflictError(`The lease on grant ${key} was lost; another worker took it over.`));
    expect(await t.grants.get(key)).toStrictEqual(current!.grant);
  });

  it('rejects saving a grant under the lease of another grant key, as a programming error', async () => {
    // Arrange
    const lease = await t.grants.acquire(key, 'worker-a', minutes(2), T0);

    // Act
    const attempt = t.grants.save(lease!, grantFor(otherKey));

    // Assert
    await expect(attempt).rejects.toThrow(/is not under the lease/);
    expect(await rawItem(otherKey)).toBeUndefined();
  });
});

describe('giving the lease back', () => {
  it('releases the lease so another owner can take it at once, keeping the grant', async () => {
    // Arrange
    const lease = await t.grants.acquire(key, 'worker-a', minutes(2), T0);
    const grant = grantFor(key);
    await t.grants.save(lease!, grant);

    // Act
    await t.grants.release(lease!);

    // Assert
    expect(await rawItem(key)).not.toHaveProperty('leaseOwner');
    expect(await t.grants.acquire(key, 'worker-b', minutes(3), minutes(1))).toMatchObject({ owner: 'worker-b', grant });
  });

  it('leaves no item behind when the lease was released without anything saved', async () => {
    // Arrange
    const lease = await t.grants.acquire(key, 'worker-a', minutes(2), T0);

    // Act
    await t.grants.release(lease!);

    // Assert
    expect(await rawItem(key)).toBeUndefined();
  });

  it('releases a lease whose own view of the grant is out of date, whichever way', async () => {
    // Arrange: one holder saved through another copy of the lease; the other removed through one.
    const saved = await t.grants.acquire(key, 'worker-a', minutes(2), T0);
    await t.grants.save({ ...saved! }, grantFor(key));
    const removed = await t.grants.acquire(otherKey, 'worker-a', minutes(2), T0);
    await t.grants.save(removed!, grantFor(otherKey));
    await t.grants.remove({ ...removed! });

    // Act
    await t.grants.release(saved!);
    await t.grants.release(removed!);

    // Assert
    expect(await rawItem(key)).not.toHaveProperty('leaseOwner');
    expect(await t.grants.get(key)).toBeDefined();
    expect(await rawItem(otherKey)).toBeUndefined();
  });

  it('does nothing, and does not fail, when releasing a lease another owner has since taken over', async () => {
    // Arrange
    const stale = await t.grants.acquire(key, 'worker-a', minutes(2), T0);
    await t.grants.acquire(key, 'worker-b', minutes(5), minutes(3));

    // Act
    await t.grants.release(stale!);

    // Assert
    expect(await rawItem(key)).toMatchObject({ leaseOwner: 'worker-b', leaseUntil: minutes(5) });
  });
});

describe('reading grants', () => {
  it('lists every grant of one account across several result pages, and none of another account or still being created', async () => {
    // Arrange: members maps large enough that the account's grants exceed one 1 MB query page.
    const bulky = (i: number) => Object.fromEntries(Array.from({ length: 400 }, (_, m) => [`req-${i}-${String(m).padStart(4, '0')}-${'x'.repeat(60)}`, minutes(60)]));
    const grants = Array.from({ length: 30 }, (_, i) => grantFor(`333333333333#rolegate-ReadOnly-u${String(i).padStart(2, '0')}`, { members: bulky(i) }));
    const elsewhere = grantFor('444444444444#rolegate-ReadOnly-u00');
    await inBatches([...grants, elsewhere], 8, async (g) => {
      const lease = await t.grants.acquire(g.grantKey, 'seeder', minutes(2), T0);
      await t.grants.save(lease!, g);
      await t.grants.release(lease!);
    });
    await t.grants.acquire('333333333333#rolegate-ReadOnly-zz-being-created', 'worker-a', minutes(2), T0);

    const reads = recordReads(t.doc);

    // Act
    const listed = await t.grants.listByAccount('333333333333');

    // Assert
    expect(listed).toHaveLength(30);
    expect(listed.map((g) => g.grantKey).sort()).toEqual(grants.map((g) => g.grantKey).sort());
    expect(listed.find((g) => g.roleName === 'rolegate-ReadOnly-u07')).toStrictEqual(grants[7]);
    expect(reads.length).toBeGreaterThan(1);
    expect(reads.every((r) => r.command === 'QueryCommand' && r.indexName === undefined)).toBe(true);
  });

  it('returns undefined for a grant key that holds only a lease', async () => {
    // Arrange
    await t.grants.acquire(key, 'worker-a', minutes(2), T0);

    // Act
    const grant = await t.grants.get(key);

    // Assert
    expect(grant).toBeUndefined();
    expect(await t.grants.listByAccount('222222222222')).toEqual([]);
  });
});
