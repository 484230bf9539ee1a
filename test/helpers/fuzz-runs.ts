/**
 * A fuzz test's number of cases: its default, or the environment variable
 * when set (a quicker local run, or a longer one). A value that is not a
 * whole number is refused rather than read as NaN, and under CI none below
 * the default is taken: the suite's case count is a claim the README makes.
 */
export function fuzzRuns(variable: string, fallback: number): number {
  const given = process.env[variable];
  if (given === undefined || given === '') return fallback;
  const runs = Number(given);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`${variable} must be a whole number of cases, not "${given}"`);
  if (process.env.CI && runs < fallback) throw new Error(`${variable}=${runs} is below the ${fallback} cases CI runs`);
  return runs;
}
