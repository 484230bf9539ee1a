import fc from 'fast-check';
import { RECONCILE_EVERY_MINUTES, runStart } from '../../../src/domain/use-cases/reconcile';

/*
 * A reconciliation that runs out of time checks the accounts (and, within
 * one, the grants) from its start on. Where successive runs start decides
 * how long an account can go unchecked: stepping by one left the last of
 * them unchecked for n - k runs on end; runStart's golden-ratio steps keep
 * every one within 2 × n / k runs.
 */

/** The longest stretch of runs, from `first` on, in which some item of `n` is not among the `k` a run gets through. */
function longestGap(n: number, k: number, first: number, runs: number): number {
  const last = new Array<number>(n).fill(first - 1);
  let longest = 0;
  for (let run = first; run < first + runs; run++) {
    const start = runStart(run, n);
    for (let j = 0; j < k; j++) {
      const item = (start + j) % n;
      longest = Math.max(longest, run - last[item]!);
      last[item] = run;
    }
  }
  return Math.max(longest, ...last.map((l) => first + runs - l));
}

it('starts every run at an item, and at the first when there is one', () => {
  fc.assert(
    fc.property(fc.nat(10_000_000), fc.integer({ min: 1, max: 5_000 }), (run, n) => {
      const start = runStart(run, n);
      return Number.isInteger(start) && start >= 0 && start < n;
    }),
  );
  expect(runStart(12345, 1)).toBe(0);
  expect(runStart(12345, 0)).toBe(0);
});

it('checks every item within 2 × n / k runs, whatever n and k, at the run numbers the clock gives now and for decades', () => {
  // Runs are numbered by quarter hours since 1970: about 1.9 million now.
  const now = Math.floor(Date.parse('2026-11-24T00:00:00Z') / (RECONCILE_EVERY_MINUTES * 60_000));
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 600 }).chain((n) => fc.tuple(fc.constant(n), fc.integer({ min: 1, max: n }))),
      fc.integer({ min: 0, max: 40 * 35_040 }),
      ([n, k], later) => longestGap(n, k, now + later, 2_000) <= (2 * n) / k,
    ),
    { numRuns: 200 },
  );
});

it('checks each of 600 accounts within 4 runs when a run gets through half of them (stepping by one left some unchecked for 300 runs, three days)', () => {
  const now = Math.floor(Date.parse('2026-11-24T00:00:00Z') / (RECONCILE_EVERY_MINUTES * 60_000));
  expect(longestGap(600, 300, now, 2_000)).toBeLessThanOrEqual(4);
});
