import { build, type BuildOptions, type Metafile, type Plugin } from 'esbuild';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { load as parse } from 'js-yaml';

/*
 * The esbuild options the deployment uses (custom.esbuild in serverless.yml),
 * for the cold-start benchmark and the test that loads the built functions:
 * both then measure and check what ships, not a look-alike.
 */

const ROOT = join(__dirname, '..');
export const FUNCTIONS = ['api', 'slack', 'worker', 'sweeper', 'reconciler'] as const;

// eslint-disable-next-line @typescript-eslint/no-require-imports
const packaging = require('./serverless-validate-config.js') as { esbuildDefine: (code: string) => Record<string, string> };
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { codeFingerprint } = require('./code-fingerprint.js') as { codeFingerprint: (root: string) => string };

/** The fingerprint packaging gives the code of this checkout (scripts/code-fingerprint.js). */
export function deploymentCode(): string {
  return codeFingerprint(ROOT);
}

/**
 * serverless.yml's esbuild options, with the code fingerprint packaging adds
 * (scripts/serverless-validate-config.js); serverless-esbuild's own option is
 * translated and the target follows the running Node.
 */
export function deploymentBuildOptions(): BuildOptions {
  const doc = parse(readFileSync(join(ROOT, 'serverless.yml'), 'utf8')) as { custom: { esbuild: Record<string, unknown> } };
  const { outputFileExtension, target: _target, sourcemap: _sourcemap, plugins, ...options } = doc.custom.esbuild;
  return {
    ...(options as BuildOptions),
    // serverless-esbuild's form: a file exporting a function that returns the plugins.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    ...(typeof plugins === 'string' ? { plugins: (require(join(ROOT, plugins)) as () => Plugin[])() } : {}),
    define: { ...(options.define as Record<string, string> | undefined), ...packaging.esbuildDefine(deploymentCode()) },
    ...(typeof outputFileExtension === 'string' ? { outExtension: { '.js': outputFileExtension } } : {}),
    target: `node${process.versions.node.split('.')[0]}`,
    logLevel: 'silent',
    metafile: true,
  };
}

export interface BuiltFunction {
  /** Absolute path of the entry file. */
  entry: string;
  /** Absolute paths of the files a cold start reads: the entry and what it imports statically. */
  eager: string[];
  /** Absolute paths of the chunks read only when first needed. */
  lazy: string[];
  /** The npm packages whose code a cold start loads. */
  eagerPackages: string[];
  /** Each file's modules (as esbuild's metafile names them) and the names it exports, by absolute path. */
  files: Record<string, { modules: string[]; exports: string[] }>;
}

/**
 * Builds one entry as the deployment does, into `outdir`: a file, or
 * TypeScript text (`contents`, written beside the output as `<name>.ts`;
 * project files by absolute path, packages resolved from the project).
 */
export async function buildLikeDeployment(entry: string | { name: string; contents: string }, outdir: string): Promise<BuiltFunction> {
  const base = deploymentBuildOptions();
  let file = entry as string;
  if (typeof entry !== 'string') {
    mkdirSync(outdir, { recursive: true });
    file = join(outdir, `${entry.name}.ts`);
    writeFileSync(file, entry.contents);
  }
  const options: BuildOptions = { ...base, entryPoints: [file], outdir, nodePaths: [join(ROOT, 'node_modules')] };
  const outputs: Metafile['outputs'] = (await build(options)).metafile!.outputs;
  // With code splitting every dynamically imported module is an entry point too; the function's is the one asked for.
  const wanted = relative(process.cwd(), file);
  const main = Object.keys(outputs).find((f) => outputs[f]!.entryPoint === wanted);
  if (!main) throw new Error(`esbuild produced no output for ${wanted}`);
  const eager = new Set<string>();
  const walk = (f: string) => {
    if (eager.has(f)) return;
    eager.add(f);
    for (const i of outputs[f]!.imports) if (i.kind === 'import-statement' && !i.external) walk(i.path);
  };
  walk(main);
  const abs = (f: string) => join(process.cwd(), f);
  const code = Object.keys(outputs).filter((f) => !f.endsWith('.map'));
  const packages = new Set<string>();
  for (const f of eager) for (const input of Object.keys(outputs[f]!.inputs)) {
    const m = /node_modules\/((@[^/]+\/)?[^/]+)/.exec(input);
    if (m) packages.add(m[1]!);
  }
  const files = Object.fromEntries(code.map((f) => [abs(f), { modules: Object.keys(outputs[f]!.inputs), exports: outputs[f]!.exports }]));
  return { entry: abs(main), eager: [...eager].map(abs), lazy: code.filter((f) => !eager.has(f)).map(abs), eagerPackages: [...packages].sort(), files };
}
