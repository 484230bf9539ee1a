import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { atColdStart, getApp, type App } from '../../../src/compose';
import { EXAMPLE_CONFIG } from '../../helpers/settings';

/*
 * A deployed function's app (getApp), and what an entry point builds from it
 * as it loads (atColdStart): one per cold start, and a configuration that
 * does not validate fails the calls until it is mended, then loads.
 * getApp reads the process's environment, as a function does; this file's
 * module registry is its own, so its cold start is this file's.
 */
describe('the app of a cold start', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rolegate-cold-app-'));
  const config = join(dir, 'rolegate.yaml');
  const saved = { ...process.env };

  beforeAll(() => {
    Object.assign(process.env, { ROLEGATE_CONFIG: config, ROLEGATE_TABLE: 't', AWS_REGION: 'eu-west-1', AWS_LAMBDA_FUNCTION_NAME: 'rolegate-test-api', ROLEGATE_LOG_LEVEL: 'SILENT' });
    delete process.env.ROLEGATE_VALIDATED_CONFIG;
  });
  afterAll(() => {
    process.env = saved;
    rmSync(dir, { recursive: true, force: true });
  });

  it('fails while the configuration does not validate, then loads once it does, and builds once', async () => {
    writeFileSync(config, readFileSync(EXAMPLE_CONFIG, 'utf8').replace('mode: dry-run', 'mode: sometimes'));
    const build = jest.fn((app: App) => app.deps.settings.accounts.map((a) => a.alias));

    // Started as the entry point loads; its failure is the first call's.
    const ready = atColdStart(build);
    await expect(ready()).rejects.toThrow(/provisioner\.mode/);
    // Not kept: the next call loads again, and meets the same error while the file stays as it is.
    await expect(ready()).rejects.toThrow(/provisioner\.mode/);
    await expect(getApp()).rejects.toThrow(/provisioner\.mode/);
    expect(build).not.toHaveBeenCalled();

    writeFileSync(config, readFileSync(EXAMPLE_CONFIG, 'utf8'));
    await expect(ready()).resolves.toEqual(['staging', 'production']);
    await expect(ready()).resolves.toEqual(['staging', 'production']);
    expect(build).toHaveBeenCalledTimes(1);
    // One app for the cold start: the one built from.
    expect(await getApp()).toBe(build.mock.calls[0]![0]);
  });
});
