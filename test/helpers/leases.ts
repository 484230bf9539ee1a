import type { GrantLease, GrantStore } from '../../src/domain/ports';
import type { Harness } from './harness';
import { intercept } from './intercept';

/** Someone else (`owner`: the worker, the sweeper) holds the grant's lease for the next two minutes of the harness clock. */
export async function holdLease(h: Pick<Harness, 'grants' | 'clock'>, grantKey: string, owner = 'someone-else'): Promise<GrantLease> {
  const now = h.clock.now();
  const lease = await h.grants.acquire(grantKey, owner, new Date(now.getTime() + 120_000).toISOString(), now.toISOString());
  if (!lease) throw new Error(`the lease of ${grantKey} is already held`);
  return lease;
}

/** The store, counting the attempts to take a lease. */
export function countingAcquires(grants: GrantStore): { grants: GrantStore; attempts: () => number } {
  let attempts = 0;
  return {
    grants: intercept<GrantStore>(grants, {
      acquire: (...args) => {
        attempts++;
        return grants.acquire(...args);
      },
    }),
    attempts: () => attempts,
  };
}
