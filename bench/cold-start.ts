import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dump, load } from 'js-yaml';
import { buildLikeDeployment, deploymentCode, FUNCTIONS } from '../scripts/deployment-build';
import { validatedConfig } from '../src/config';
import { median } from './stats';

export interface ColdStartRow {
  name: string;
  /** Load and composition under the example configuration as it is, in dry-run mode (a dev stage deployed with it). */
  dryRunMs: number;
  /** Bytes a cold start reads: the entry file and every chunk it imports statically. */
  bytes: number;
  /** Bytes of the lazily loaded chunks, read only when first needed. */
  lazyBytes: number;
  /** Load and composition under the example configuration in aws mode (deployedExample): the goal's figure. */
  loadMs: number;
  /** Its bare bundle: the SDK clients it loads at cold start, imported and built, and nothing else. */
  baseline: { clients: string[]; bytes: number; loadMs: number };
}

const ROOT = join(__dirname, '..');
const EXAMPLE = join(ROOT, 'config', 'rolegate.example.yaml');

/**
 * The example configuration as a deployment that grants access runs it:
 * provisioner.mode aws, with the identity-granter role identity grants then
 * need. In dry-run mode every cold start also logs a warning as it loads;
 * the bench times both.
 */
function deployedExample(dir: string): string {
  const doc = load(readFileSync(EXAMPLE, 'utf8')) as { provisioner: Record<string, unknown> };
  // The example changing shape would make this another configuration than the one it names: the bench stops instead.
  if (doc.provisioner.mode !== 'dry-run' || doc.provisioner.identityGrants !== true) throw new Error('the example configuration no longer runs dry-run with identity grants; update the bench');
  doc.provisioner = {
    ...doc.provisioner,
    mode: 'aws',
    identityRoleArn: 'arn:aws:iam::111111111111:role/rolegate-identity-granter',
    identityExternalId: 'rolegate-identity-bench',
  };
  const file = join(dir, 'rolegate.deployed.yaml');
  writeFileSync(file, dump(doc));
  return file;
}

/**
 * Module-load time of a bundle in a fresh node process (import() of ES
 * modules, require() of CommonJS), with a deployed function's environment:
 * a configuration and the copy of it packaging validates.
 */
function loadTime(file: string, config: { file: string; validated: string; dryRun: boolean }): number {
  // A composed bundle exports the composition's promise (`ready`), awaited within the time.
  const load = file.endsWith('.mjs') ? `await (await import(${JSON.stringify(file)})).ready` : `require(${JSON.stringify(file)})`;
  const run = spawnSync(
    process.execPath,
    ['--input-type=module', '-e', `import { createRequire } from 'node:module'; const require = createRequire(import.meta.url); const t=process.hrtime.bigint(); ${load}; process.stdout.write(String(Number(process.hrtime.bigint()-t)/1e6))`],
    { env: { ...process.env, ROLEGATE_CONFIG: config.file, ROLEGATE_VALIDATED_CONFIG: config.validated, ROLEGATE_TABLE: 'bench', AWS_REGION: 'eu-west-1', AWS_LAMBDA_FUNCTION_NAME: 'bench', ROLEGATE_LOG_LEVEL: 'WARN' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  // A function that passed the validated copy over (and validated the file instead) would time another cold start than a deployment's.
  if (run.status !== 0 || run.stderr.includes('validated copy')) throw new Error(`${file} did not load as deployed: ${run.stderr}`);
  // The configuration in effect, as its mode shows: dry-run warns as the function loads, aws mode does not.
  if (run.stderr.includes('provisioner.mode is dry-run') !== config.dryRun) throw new Error(`${file} did not load in the mode of ${config.file}: ${run.stderr}`);
  return Number(run.stdout.toString());
}

/**
 * The bare bundle for a set of SDK packages: it imports them and builds
 * their clients, as the least a function using them does before its first
 * call. Only the clients a function loads at cold start are in its bare
 * bundle: one it loads lazily (IAM, STS, SSM) costs neither side anything then.
 */
function bareBundle(packages: string[]): { name: string; contents: string } {
  const lines: string[] = [];
  const known: Record<string, string> = {
    '@aws-sdk/client-dynamodb': "import { DynamoDBClient } from '@aws-sdk/client-dynamodb';\nconst dynamodb = new DynamoDBClient({ region: process.env.AWS_REGION });",
    '@aws-sdk/lib-dynamodb': "import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';\n(globalThis as Record<string, unknown>).doc = DynamoDBDocumentClient.from(dynamodb);",
    '@aws-sdk/client-iam': "import { IAMClient } from '@aws-sdk/client-iam';\n(globalThis as Record<string, unknown>).iam = new IAMClient({ region: process.env.AWS_REGION });",
    '@aws-sdk/client-sts': "import { STSClient } from '@aws-sdk/client-sts';\n(globalThis as Record<string, unknown>).sts = new STSClient({ region: process.env.AWS_REGION });",
  };
  for (const p of packages) {
    // A client no bare bundle knows how to build would be compared against nothing: the bench stops instead.
    if (!known[p]) throw new Error(`a function loads ${p} at cold start; add it to the bare bundle`);
    lines.push(known[p]!);
  }
  return { name: `bare-${packages.map((p) => p.replace(/^@aws-sdk\//, '')).join('+') || 'none'}`, contents: lines.join('\n') };
}

/** The SDK clients (and the document client) whose code a built function loads at cold start. */
const sdkClients = (packages: string[]) => packages.filter((p) => /^@aws-sdk\/(client|lib)-/.test(p));

/**
 * Each function, built as deployed, against a bare bundle importing only the
 * same SDK clients it loads at cold start, built the same way. The time is
 * the module load and the composition a cold start pays before its first
 * call: the API and the Slack function compose as they load, the others at
 * their first call (getApp), which the timed load awaits.
 */
export async function coldStart(runs: number): Promise<{ rows: ColdStartRow[]; everyClient: { bytes: number; loadMs: number } }> {
  // Each bundle in a directory of its own, as each function is packaged alone.
  const dir = () => mkdtempSync(join(tmpdir(), 'rolegate-cold-'));
  const built: Array<{ name: string; timed: string; bytes: string[]; lazy: string[]; baseline: string }> = [];
  const bares = new Map<string, { entry: string; bytes: string[]; lazy: string[] }>();
  for (const name of FUNCTIONS) {
    const handler = join(ROOT, 'src', 'handlers', `${name}.ts`);
    const shipped = await buildLikeDeployment(handler, dir());
    // The same modules (esbuild bundles one copy of compose), and the composition of a first call.
    const composed = await buildLikeDeployment(
      {
        name: `${name}-composed`,
        // No top-level await (the build refuses it, scripts/esbuild-eager-core.js): the load awaits `ready`.
        contents: [`import * as fn from ${JSON.stringify(handler)};`, `import { getApp } from ${JSON.stringify(join(ROOT, 'src', 'compose'))};`, 'export const ready = getApp();', '(globalThis as Record<string, unknown>).keep = fn;'].join('\n'),
      },
      dir(),
    );
    const clients = sdkClients(shipped.eagerPackages);
    const key = clients.join(',');
    if (!bares.has(key)) {
      const b = bareBundle(clients);
      const out = await buildLikeDeployment(b, dir());
      bares.set(key, { entry: out.entry, bytes: out.eager, lazy: out.lazy });
    }
    built.push({ name, timed: composed.entry, bytes: shipped.eager, lazy: shipped.lazy, baseline: key });
  }

  // For reference, the bare bundle this bench used before: every SDK client the functions use (IAM and STS
  // too), loaded at once, though no function loads IAM or STS before its first grant.
  const everyClient = ['@aws-sdk/client-dynamodb', '@aws-sdk/lib-dynamodb', '@aws-sdk/client-iam', '@aws-sdk/client-sts'];
  const all = await buildLikeDeployment(bareBundle(everyClient), dir());
  bares.set(everyClient.join(','), { entry: all.entry, bytes: all.eager, lazy: all.lazy });

  // Each with the copy `serverless package` writes (scripts/serverless-validate-config.js), for the default stack values.
  const configs = dir();
  const withValidated = (file: string, name: string) => {
    const validated = join(configs, `${name}.validated.json`);
    const config = validatedConfig(file, {}, deploymentCode());
    writeFileSync(validated, JSON.stringify(config));
    return { file, validated, dryRun: config.settings.provisioner.mode === 'dry-run' };
  };
  const deployed = withValidated(deployedExample(configs), 'deployed');
  const dryRun = withValidated(EXAMPLE, 'dry-run');

  // Interleave runs so machine noise touches every bundle alike, the two modes taking turns to go first.
  const samples = new Map<string, number[]>();
  const sample = (key: string, file: string, config = deployed) => samples.set(key, [...(samples.get(key) ?? []), loadTime(file, config)]);
  for (let i = 0; i < runs; i++) {
    for (const [key, b] of bares) sample(`bare:${key}`, b.entry);
    for (const b of built) {
      const modes = [() => sample(b.name, b.timed), () => sample(`dry-run:${b.name}`, b.timed, dryRun)];
      for (const m of i % 2 === 0 ? modes : modes.reverse()) m();
    }
  }
  const size = (files: string[]) => files.reduce((n, f) => n + statSync(f).size, 0);
  const rows = built.map((b) => {
    const bare = bares.get(b.baseline)!;
    return {
      name: b.name,
      bytes: size(b.bytes),
      lazyBytes: size(b.lazy),
      loadMs: median(samples.get(b.name)!),
      dryRunMs: median(samples.get(`dry-run:${b.name}`)!),
      baseline: { clients: b.baseline.split(',').filter(Boolean), bytes: size(bare.bytes), loadMs: median(samples.get(`bare:${b.baseline}`)!) },
    };
  });
  return { rows, everyClient: { bytes: size(all.eager), loadMs: median(samples.get(`bare:${everyClient.join(',')}`)!) } };
}
