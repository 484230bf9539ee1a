'use strict';

/*
 * An esbuild plugin for the functions' builds (serverless.yml, custom.esbuild.plugins;
 * scripts/deployment-build.ts): the code a function's cold start loads sits
 * in its entry file, not in a dozen chunks.
 *
 * With code splitting, esbuild puts every module that the entry and a lazily
 * loaded module (the IAM adapters, the Slack client, the configuration
 * parser…) both import in a chunk of its own, one per set of importers. A cold
 * start then reads a dozen small files besides the SDK's, each with its own
 * cost to resolve, link and evaluate: about half of what the function's own
 * code added to a bare SDK client's load (bench/cold-start.ts).
 *
 * Here a lazily loaded project module's imports of those modules (the
 * project's, and ES-module packages such as zod) are pointed instead at the
 * entry file, which re-exports what lazy code uses of them. The modules then
 * stay in the entry, and each is still evaluated once: lazy code gets the very
 * instances (classes, registries, caches) the cold start made, through live
 * ES-module bindings. Imports between packages (the SDK's lazy clients and
 * its core) are left to esbuild, as a bare SDK bundle has them.
 *
 * Before each build, three more, not written: one finds which modules the
 * cold start loads and which of them lazy modules import; one lists their
 * exports; a trial finds which of those lazy code reads, so that the entry
 * re-exports only those and tree shaking still drops the rest.
 *
 * The function's chunks are named after it (`api.chunk-….mjs`, unless the
 * build names chunks itself): serverless-esbuild leaves files named after
 * another function's entry out of a function's package, so each package holds
 * its own function's code only, though all are built into one directory.
 *
 * Lazy chunks import the entry, so the build stops when that could fail: when
 * an output is not beside the entry (the chunks name it `./<entry>.mjs`), and
 * when the code a cold start loads uses top-level await (a lazy chunk loaded
 * while the entry awaits would wait for it for ever).
 */

const esbuild = require('esbuild');
const { readFileSync } = require('node:fs');
const { basename, dirname, extname, relative, resolve, sep } = require('node:path');

const NAME = 'rolegate-eager-core';
const SHARED = `${NAME}:shared`;
const SKIP = Symbol(NAME);
/** The name under which the entry re-exports export `name` of shared module `i`. */
const alias = (i, name) => `__rg${i}_${name}`;
const ALIAS = /__rg(\d+)_([\p{L}\p{N}_$]+)/gu;

/** A path as esbuild's metafile writes it: relative to the working directory, with forward slashes. */
const metaPath = (cwd, file) => relative(cwd, file).split(sep).join('/');
const isProjectModule = (path) => !path.includes('node_modules/') && !path.includes(':');
const loaderOf = (file) => ({ '.ts': 'ts', '.mts': 'ts', '.cts': 'ts', '.tsx': 'tsx' })[extname(file)] || 'js';

/** esbuild cannot write top-level await as CommonJS, and says so: the test, on the code a cold start loads. */
async function refuseTopLevelAwait(file, code) {
  try {
    await esbuild.transform(code, { loader: 'js', format: 'cjs', logLevel: 'silent' });
  } catch (e) {
    if (!/top-level await/i.test(String(e && e.message))) throw e;
    throw new Error(`${NAME}: ${file} (with what it imports) uses top-level await, and its lazy chunks import it: one loaded while it awaits would wait for it for ever`);
  }
}

/**
 * What one function's build shares: the modules its cold start loads
 * (`eager`, a set), those of them lazy modules import (`modules`, as the metafile
 * names them), every export of each (`exports`) and those lazy code reads (`used`).
 */
async function planFor(options, others, cwd, entryFile, entryOutput) {
  const quiet = { ...options, plugins: others, write: false, metafile: true, sourcemap: false, logLevel: 'silent' };
  const { inputs } = (await esbuild.build(quiet)).metafile;
  const eager = new Set();
  const walk = (path) => {
    if (eager.has(path) || !inputs[path]) return;
    eager.add(path);
    for (const i of inputs[path].imports) if ((i.kind === 'import-statement' || i.kind === 'require-call') && !i.external) walk(i.path);
  };
  walk(metaPath(cwd, entryFile));
  // An ES module (or a project file) only: a CommonJS package's exports are not known before it runs.
  const bridgeable = (path) => eager.has(path) && (isProjectModule(path) || inputs[path].format === 'esm');
  const shared = new Set();
  for (const [path, input] of Object.entries(inputs)) {
    if (eager.has(path) || !isProjectModule(path)) continue;
    for (const i of input.imports) if (i.kind === 'import-statement' && bridgeable(i.path)) shared.add(i.path);
  }
  const modules = [...shared].sort();
  const plan = { eager, modules, exports: [], used: [] };
  if (modules.length === 0) return plan;

  // Every export of each: a build of them as entries lists them.
  const { outputs } = (await esbuild.build({ ...quiet, entryPoints: modules.map((m) => resolve(cwd, m)) })).metafile;
  plan.exports = modules.map((m) => (Object.values(outputs).find((o) => o.entryPoint === m) || { exports: [] }).exports);

  // Those lazy code reads: a build whose entry offers them all, and whose bridges read each from the entry's
  // namespace into a constant, which tree shaking drops when unused. Its lazy chunks name the aliases they read.
  const trial = await esbuild.build({ ...quiet, plugins: [...others, eagerCore({ ...plan, used: plan.exports, trial: true })] });
  const files = trial.outputFiles.filter((f) => !f.path.endsWith('.map'));
  const entryPath = Object.keys(trial.metafile.outputs).find((o) => trial.metafile.outputs[o].entryPoint === metaPath(cwd, entryFile));
  const entry = files.find((f) => metaPath(cwd, f.path) === entryPath);
  const astray = files.filter((f) => dirname(f.path) !== dirname(entry.path)).map((f) => f.path);
  if (basename(entry.path) !== basename(entryOutput) || astray.length > 0) {
    throw new Error(`${NAME}: needs every output beside the entry, named ${entryOutput} (entryNames, chunkNames, outbase); got ${entry.path}${astray.length ? ` and ${astray.join(', ')}` : ''}`);
  }
  // The code a cold start loads: the entry and the files it imports statically (the SDK's shared chunks).
  const loaded = new Set();
  const load = (path) => {
    if (loaded.has(path)) return;
    loaded.add(path);
    for (const i of trial.metafile.outputs[path].imports) if (i.kind === 'import-statement' && !i.external) load(i.path);
  };
  load(entryPath);
  for (const file of files) if (loaded.has(metaPath(cwd, file.path))) await refuseTopLevelAwait(entryFile, file.text);
  const used = modules.map(() => new Set());
  for (const file of files) {
    if (file === entry) continue;
    for (const [, i, name] of file.text.matchAll(ALIAS)) used[Number(i)].add(name);
  }
  plan.used = plan.exports.map((names, i) => names.filter((n) => used[i].has(n)));
  return plan;
}

/** @param given the trial build's plan (planFor); a function's build finds its own before each (re)build. */
function eagerCore(given) {
  return {
    name: NAME,
    setup(build) {
      const options = build.initialOptions;
      if (!options.splitting) return;
      const entries = Array.isArray(options.entryPoints) ? options.entryPoints : [];
      if (entries.length !== 1 || typeof entries[0] !== 'string') throw new Error(`${NAME}: builds one function at a time, from one entry file`);
      const cwd = options.absWorkingDir || process.cwd();
      const entryFile = resolve(cwd, entries[0]);
      const out = basename(entryFile, extname(entryFile));
      const entryOutput = `./${out}${(options.outExtension && options.outExtension['.js']) || '.js'}`;
      const others = (options.plugins || []).filter((p) => p.name !== NAME);
      if (!options.chunkNames) options.chunkNames = `${out}.[name]-[hash]`;
      let plan = given;
      build.onStart(async () => {
        if (given) return;
        plan = undefined;
        plan = await planFor(options, others, cwd, entryFile, entryOutput);
      });

      // The entry re-exports, under aliases, what lazy code reads of the shared modules.
      // (No plan: the plan's own failure is the build's error.)
      build.onLoad({ filter: /.*/ }, (args) => {
        if (!plan || args.path !== entryFile || args.namespace !== 'file' || plan.modules.length === 0) return undefined;
        const reexports = plan.modules.map((m, i) => `export { ${plan.used[i].map((n) => `${n} as ${alias(i, n)}`).join(', ')} } from ${JSON.stringify(resolve(cwd, m))};`);
        const loader = (options.loader && options.loader[extname(entryFile)]) || loaderOf(entryFile);
        return { contents: `${readFileSync(entryFile, 'utf8')}\n${reexports.join('\n')}\n`, loader, resolveDir: dirname(entryFile) };
      });

      // A lazy project module's import of a shared module: the same exports, from the entry.
      build.onResolve({ filter: /.*/ }, async (args) => {
        if (!plan || args.pluginData === SKIP || args.kind !== 'import-statement' || args.namespace !== 'file' || plan.modules.length === 0) return undefined;
        const importer = metaPath(cwd, args.importer);
        if (!isProjectModule(importer) || plan.eager.has(importer)) return undefined;
        const target = await build.resolve(args.path, { kind: args.kind, importer: args.importer, resolveDir: args.resolveDir, pluginData: SKIP });
        const i = plan.modules.indexOf(metaPath(cwd, target.path));
        return i < 0 ? undefined : { path: String(i), namespace: SHARED, sideEffects: false };
      });
      // What lazy code reads, imported by name: a live binding, and a missing one fails as the chunk loads. The
      // rest (names a lazy module imports but its code, once bundled, never reads) read from the entry's
      // namespace into constants that tree shaking drops: esbuild keeps every name of an import from another file.
      build.onLoad({ filter: /.*/, namespace: SHARED }, (args) => {
        const i = Number(args.path);
        const used = new Set(given && given.trial ? [] : plan.used[i]);
        const lines = [`import * as entry from ${JSON.stringify(entryOutput)};`];
        if (used.size > 0) lines.push(`import { ${[...used].map((n, k) => `${alias(i, n)} as u${k}`).join(', ')} } from ${JSON.stringify(entryOutput)};`, `export { ${[...used].map((n, k) => `u${k} as ${n}`).join(', ')} };`);
        plan.exports[i].filter((n) => !used.has(n)).forEach((n, k) => lines.push(`const v${k} = entry.${alias(i, n)};`, `export { v${k} as ${n} };`));
        return { contents: `${lines.join('\n')}\n`, loader: 'js' };
      });
      build.onResolve({ filter: /.*/, namespace: SHARED }, (args) => ({ path: args.path, external: true }));
    },
  };
}

/** serverless-esbuild's form (custom.esbuild.plugins): a function returning the plugins. */
module.exports = () => [eagerCore()];
module.exports.eagerCore = eagerCore;
