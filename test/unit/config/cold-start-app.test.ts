import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { atColdStart, getApp, type App } from '../../../src/compose';
import { apiEvent, lambdaContext } from '../../helpers/events';
import { ARN, EXAMPLE_CONFIG } from '../../helpers/settings';

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

  it('the API answers 500 with a correlation id while its app does not load, logs why, and serves once it loads', async () => {
    writeFileSync(config, readFileSync(EXAMPLE_CONFIG, 'utf8').replace('mode: dry-run', 'mode: sometimes'));
    const written: string[] = [];
    // Powertools writes errors to stderr, the rest to stdout.
    const record = (chunk: string | Uint8Array) => written.push(String(chunk)) > 0;
    const out = [jest.spyOn(process.stdout, 'write').mockImplementation(record), jest.spyOn(process.stderr, 'write').mockImplementation(record)];
    process.env.ROLEGATE_LOG_LEVEL = 'ERROR';
    try {
      await jest.isolateModulesAsync(async () => {
        // A module registry of its own: this entry point's cold start, with the file broken.
        const { handler } = await import('../../../src/handlers/api');
        const event = apiEvent({ method: 'GET', path: '/catalog', caller: ARN.alice });

        const failed = await handler(event, lambdaContext());

        expect({ statusCode: failed.statusCode, body: JSON.parse(failed.body) as unknown }).toEqual({
          statusCode: 500,
          // The configuration's faults are the operators' to read, not the caller's.
          body: { error: 'INTERNAL', message: 'Something went wrong on our side. Quote the correlation id when you report it.', correlationId: event.requestContext.requestId },
        });
        const logged = written.map((line) => JSON.parse(line) as { message: string; correlationId?: string; error?: { message: string } });
        expect(logged).toEqual([expect.objectContaining({ message: 'unexpected error', correlationId: event.requestContext.requestId, error: expect.objectContaining({ message: expect.stringContaining('provisioner.mode') }) })]);

        writeFileSync(config, readFileSync(EXAMPLE_CONFIG, 'utf8'));
        expect((await handler(event, lambdaContext())).statusCode).toBe(200);
      });
    } finally {
      out.forEach((spy) => spy.mockRestore());
      process.env.ROLEGATE_LOG_LEVEL = 'SILENT';
    }
  });
});
