import { createMetrics } from '../../../src/adapters/metrics';

/*
 * A deployed function's metrics (createMetrics, as composeApp makes them), flushed as each invocation ends: one EMF
 * line when it counted something, and not a byte, on stdout or stderr, when it counted nothing.
 */

/** What `run` writes to stdout and to stderr. */
function output(run: () => void): { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const out = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => stdout.push(String(chunk)) > 0);
  const err = jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => stderr.push(String(chunk)) > 0);
  try {
    run();
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
  return { stdout, stderr };
}

it('writes nothing at all when the invocation counted nothing', () => {
  const metrics = createMetrics('test');
  expect(output(() => metrics.flush())).toEqual({ stdout: [], stderr: [] });
});

it('writes one EMF line of what was counted, then nothing for a next invocation that counted nothing', () => {
  const metrics = createMetrics('test');
  const first = output(() => {
    metrics.count('RequestCreated');
    metrics.flush();
  });
  expect(first.stderr).toEqual([]);
  expect(first.stdout).toHaveLength(1);
  const emf = JSON.parse(first.stdout[0]!);
  expect(emf._aws.CloudWatchMetrics).toEqual([{ Namespace: 'rolegate', Dimensions: [['service', 'stage']], Metrics: [{ Name: 'RequestCreated', Unit: 'Count' }] }]);
  expect(emf).toMatchObject({ service: 'rolegate', stage: 'test', RequestCreated: 1 });
  // The next invocation counted nothing: nothing is written again.
  expect(output(() => metrics.flush())).toEqual({ stdout: [], stderr: [] });
});
