import { fuzzRuns } from '../../helpers/fuzz-runs';

describe('a fuzz test\'s number of cases', () => {
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
  });

  it('is the default unless the variable is set, and the variable when it is a whole number', () => {
    delete process.env.CI;
    delete process.env.ROLEGATE_TEST_RUNS;
    expect(fuzzRuns('ROLEGATE_TEST_RUNS', 500)).toBe(500);
    process.env.ROLEGATE_TEST_RUNS = '50';
    expect(fuzzRuns('ROLEGATE_TEST_RUNS', 500)).toBe(50);
  });

  it.each(['ten', '1e', '2.5', '0', '-3'])('refuses %p rather than run NaN or no cases', (given) => {
    delete process.env.CI;
    process.env.ROLEGATE_TEST_RUNS = given;
    expect(() => fuzzRuns('ROLEGATE_TEST_RUNS', 500)).toThrow(`ROLEGATE_TEST_RUNS must be a whole number of cases, not "${given}"`);
  });

  it('under CI takes none below the default, and more', () => {
    process.env.CI = 'true';
    process.env.ROLEGATE_TEST_RUNS = '499';
    expect(() => fuzzRuns('ROLEGATE_TEST_RUNS', 500)).toThrow('ROLEGATE_TEST_RUNS=499 is below the 500 cases CI runs');
    process.env.ROLEGATE_TEST_RUNS = '20000';
    expect(fuzzRuns('ROLEGATE_TEST_RUNS', 500)).toBe(20000);
  });
});
