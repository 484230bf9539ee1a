import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { median } from './stats';

export interface ColdStartRow {
  name: string;
  bytes: number;
  loadMs: number;
}

const ROOT = join(__dirname, '..');

async function bundle(entry: string | { contents: string }, outfile: string): Promise<number> {
  const common = { bundle: true, minify: true, platform: 'node' as const, target: 'node20', format: 'cjs' as const, outfile, logLevel: 'silent' as const };
  // The bare bundle is built from text resolved against the project, so it finds the same node_modules.
  await build(typeof entry === 'string' ? { ...common, entryPoints: [entry] } : { ...common, stdin: { contents: entry.contents, resolveDir: ROOT, loader: 'ts' } });
  return statSync(outfile).size;
}

/** Median module-load time of a bundle over `runs` fresh node processes. */
function loadTime(file: string, runs: number): number {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const out = execFileSync(
      process.execPath,
      ['-e', `const t=process.hrtime.bigint();require(${JSON.stringify(file)});process.stdout.write(String(Number(process.hrtime.bigint()-t)/1e6))`],
      { env: { ...process.env, ROLEGATE_CONFIG: join(ROOT, 'config', 'rolegate.example.yaml'), ROLEGATE_TABLE: 'bench', AWS_REGION: 'eu-west-1', AWS_LAMBDA_FUNCTION_NAME: 'bench', ROLEGATE_LOG_LEVEL: 'WARN' } },
    );
    times.push(Number(out.toString()));
  }
  return median(times);
}

/** Each bundled function against a bare bundle importing only the same SDK clients. */
export async function coldStart(runs: number): Promise<{ rows: ColdStartRow[]; baseline: ColdStartRow }> {
  const dir = mkdtempSync(join(tmpdir(), 'rolegate-cold-'));
  const bare = {
    contents: [
      "import * as a from '@aws-sdk/client-dynamodb';",
      "import * as b from '@aws-sdk/lib-dynamodb';",
      "import * as c from '@aws-sdk/client-sts';",
      "import * as d from '@aws-sdk/client-iam';",
      '(globalThis as Record<string, unknown>).keep = [a, b, c, d];',
    ].join('\n'),
  };
  const bareOut = join(dir, 'bare.js');
  const baseline = { name: 'bare SDK clients', bytes: await bundle(bare, bareOut), loadMs: 0 };
  const rows: ColdStartRow[] = [];
  for (const name of ['api', 'slack', 'worker', 'sweeper', 'reconciler']) {
    const out = join(dir, `${name}.js`);
    rows.push({ name, bytes: await bundle(join(ROOT, 'src', 'handlers', `${name}.ts`), out), loadMs: 0 });
  }
  // Interleave runs so machine noise touches every bundle alike.
  const samples = new Map<string, number[]>();
  for (let i = 0; i < runs; i++) {
    for (const [name, file] of [['bare', bareOut], ...rows.map((r) => [r.name, join(dir, `${r.name}.js`)])] as [string, string][]) {
      samples.set(name, [...(samples.get(name) ?? []), loadTime(file, 1)]);
    }
  }
  baseline.loadMs = median(samples.get('bare')!);
  for (const r of rows) r.loadMs = median(samples.get(r.name)!);
  return { rows, baseline };
}
