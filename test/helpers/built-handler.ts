import { spawnSync } from 'node:child_process';

export interface HandlerRun {
  /** The handler's answer, when it gave one. */
  result?: { statusCode: number; body: string };
  status: number | null;
  /** Everything the process wrote (stdout, then stderr): the log lines. */
  output: string;
}

/**
 * Calls `exported` of a built module (a bundle, a function's package) with
 * `event`, in a fresh node as Lambda would: from `cwd`, with only `env`
 * (and PATH) in its environment.
 */
export function callBuiltHandler(file: string, exported: string, event: unknown, options: { env: Record<string, string>; cwd?: string }): HandlerRun {
  const context = { awsRequestId: 'r1', functionName: 'api' };
  const script = `const m = await import(${JSON.stringify(file)}); const res = await m.${exported}(${JSON.stringify(event)}, { ...${JSON.stringify(context)}, getRemainingTimeInMillis: () => 1000 }); console.log('RESULT ' + JSON.stringify(res));`;
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { ...(options.cwd ? { cwd: options.cwd } : {}), env: { PATH: process.env.PATH, ...options.env }, encoding: 'utf8', timeout: 60_000 });
  const line = run.stdout.split('\n').find((l) => l.startsWith('RESULT '));
  return { ...(line ? { result: JSON.parse(line.slice('RESULT '.length)) as HandlerRun['result'] } : {}), status: run.status, output: `${run.stdout}${run.stderr}` };
}
