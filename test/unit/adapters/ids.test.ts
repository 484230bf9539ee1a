import { decodeTime, isValid } from 'ulid';
import { pooledRandom, ulidIds } from '../../../src/adapters/system';

describe('pooledRandom', () => {
  it('gives byte fractions in [0, 1), refilling the pool with fresh bytes once it is used up', () => {
    const poolBytes = 64;
    const random = pooledRandom(poolBytes);
    const first = Array.from({ length: poolBytes }, random);
    const second = Array.from({ length: poolBytes }, random);
    for (const x of [...first, ...second]) {
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThan(1);
      expect(Number.isInteger(x * 256)).toBe(true);
    }
    // A pool replayed would repeat itself exactly (a chance of 2^-512 otherwise).
    expect(second).not.toEqual(first);
  });

  it('draws every byte value about equally often, so each of ulid\'s 32 characters is equally likely', () => {
    const random = pooledRandom();
    const counts = new Array<number>(32).fill(0);
    const draws = 320_000;
    for (let i = 0; i < draws; i++) counts[Math.floor(random() * 32)]!++;
    // 10,000 expected per character; 6 standard deviations (about 590) either side, so a false failure is near impossible.
    for (const c of counts) expect(Math.abs(c - draws / 32)).toBeLessThan(600);
  });
});

describe('ulidIds', () => {
  it('makes valid ULIDs of the current time, unique and strictly increasing even within one millisecond', () => {
    const ids = ulidIds();
    const before = Date.now();
    const made = Array.from({ length: 10_000 }, () => ids.next());
    const after = Date.now();
    expect(made.every((id) => isValid(id))).toBe(true);
    expect(new Set(made).size).toBe(made.length);
    expect([...made].sort()).toEqual(made);
    expect(decodeTime(made[0]!)).toBeGreaterThanOrEqual(before);
    expect(decodeTime(made.at(-1)!)).toBeLessThanOrEqual(after);
  });

  it('gives two generators (two containers) different random parts', () => {
    const a = ulidIds().next();
    const b = ulidIds().next();
    expect(a.slice(10)).not.toBe(b.slice(10));
  });
});
