import { spawnSync } from 'node:child_process';
import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildLikeDeployment, deploymentCode, FUNCTIONS } from '../scripts/deployment-build';
import { validatedConfig } from '../src/config';
import { median } from './stats';

export interface ColdStartRow {
  name: string;
  /** Bytes a cold start reads: the entry file and every chunk it imports statically. */
  bytes: number;
  /** Bytes of the lazily loaded chunks, read only when first needed. */
  lazyBytes: number;
  loadMs: number;
}

const ROOT = join(__dirname, '..');
const EXAMPLE = join(ROOT, 'config', 'rolegate.example.yaml');

/**
 * Module-load time of a bundle in a fresh node process (import() of ES
 * modules, require() of CommonJS), with a deployed function's environment:
 * the example configuration and the copy of it packaging validates.
 */
function loadTime(file: string, validated: string): number {
  const load = file.endsWith('.mjs') ? `await import(${JSON.stringify(file)})` : `require(${JSON.stringify(file)})`;
  const run = spawnSync(
    process.execPath,
    ['--input-type=module', '-e', `import { createRequire } from 'node:module'; const require = createRequire(import.meta.url); const t=process.hrtime.bigint(); ${load}; process.stdout.write(String(Number(process.hrtime.bigint()-t)/1e6))`],
    { env: { ...process.env, ROLEGATE_CONFIG: EXAMPLE, ROLEGATE_VALIDATED_CONFIG: validated, ROLEGATE_TABLE: 'bench', AWS_REGION: 'eu-west-1', AWS_LAMBDA_FUNCTION_NAME: 'bench', ROLEGATE_LOG_LEVEL: 'WARN' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  // A function that passed the validated copy over (and validated the file instead) would time another cold start than a deployment's.
  if (run.status !== 0 || run.stderr.includes('validated copy')) throw new Error(`${file} did not load as deployed: ${run.stderr}`);
  return Number(run.stdout.toString());
}

/** Each function, built as deployed, against a bare bundle importing only the same SDK clients, built the same way. */
export async function coldStart(runs: number): Promise<{ rows: ColdStartRow[]; baseline: ColdStartRow }> {
  const bare = {
    name: 'bare',
    contents: [
      "import * as a from '@aws-sdk/client-dynamodb';",
      "import * as b from '@aws-sdk/lib-dynamodb';",
      "import * as c from '@aws-sdk/client-sts';",
      "import * as d from '@aws-sdk/client-iam';",
      '(globalThis as Record<string, unknown>).keep = [a, b, c, d];',
    ].join('\n'),
  };
  // Each bundle in a directory of its own, as each function is packaged alone.
  const dir = () => mkdtempSync(join(tmpdir(), 'rolegate-cold-'));
  const built = [{ name: 'bare SDK clients', ...(await buildLikeDeployment(bare, dir())) }];
  for (const name of FUNCTIONS) built.push({ name, ...(await buildLikeDeployment(join(ROOT, 'src', 'handlers', `${name}.ts`), dir())) });

  // As `serverless package` writes it (scripts/serverless-validate-config.js), for the default stack values.
  const validated = join(dir(), 'validated-config.json');
  writeFileSync(validated, JSON.stringify(validatedConfig(EXAMPLE, {}, deploymentCode())));

  // Interleave runs so machine noise touches every bundle alike.
  const samples = new Map<string, number[]>();
  for (let i = 0; i < runs; i++) {
    for (const b of built) samples.set(b.name, [...(samples.get(b.name) ?? []), loadTime(b.entry, validated)]);
  }
  const size = (files: string[]) => files.reduce((n, f) => n + statSync(f).size, 0);
  const rows = built.map((b) => ({ name: b.name, bytes: size(b.eager), lazyBytes: size(b.lazy), loadMs: median(samples.get(b.name)!) }));
  return { rows: rows.slice(1), baseline: rows[0]! };
}
