'use strict';

/*
 * An esbuild plugin for the functions' builds (serverless.yml, custom.esbuild.plugins;
 * scripts/deployment-build.ts): the project code a function's cold start
 * loads sits in its entry file, not in a dozen chunks.
 *
 * With code splitting, esbuild puts every module that the entry and a lazily
 * loaded module (the IAM adapters, the Slack client, the configuration
 * parser…) both import in a chunk of its own, one per set of importers. A cold
 * start then reads a dozen small files besides the SDK's, each with its own
 * cost to resolve, link and evaluate: about half of what the function's own
 * code added to a bare SDK client's load (bench/cold-start.ts).
 *
 * Here a lazily loaded module's imports of those modules are pointed instead
 * at the entry file, which re-exports what lazy code uses of them. The modules
 * then stay in the entry, and each is still evaluated once: lazy code gets the
 * very instances (classes, registries, caches) the cold start made. The SDK's
 * own chunks are left as esbuild makes them (a bare SDK bundle has them too).
 *
 * Three builds, not written, come first: one finds which modules the cold
 * start loads and which of them lazy modules import; one lists their exports;
 * one finds which of those lazy code uses, so that the entry re-exports only
 * those and tree shaking still drops the rest.
 *
 * Two things the plugin refuses, as they would break this:
 * - an entry with top-level await: a lazy chunk imports the entry, and one
 *   loaded while the entry awaits would wait for it for ever;
 * - a shared module exporting `let` or `var`: lazy code reads each export
 *   once, when it loads, so it would not see the variable change.
 */

const esbuild = require('esbuild');
const { readFileSync } = require('node:fs');
const { basename, dirname, extname, relative, resolve, sep } = require('node:path');

const NAME = 'rolegate-eager-core';
const SHARED = `${NAME}:shared`;
const SKIP = Symbol(NAME);
/** The name under which the entry re-exports export `name` of shared module `i`. */
const alias = (i, name) => `__rg${i}_${name}`;
const ALIAS = /__rg(\d+)_([A-Za-z0-9_$]+)/g;

/** A path as esbuild's metafile writes it: relative to the working directory, with forward slashes. */
const metaPath = (cwd, file) => relative(cwd, file).split(sep).join('/');
const isProjectModule = (path) => !path.includes('node_modules/') && !path.includes(':');
const loaderOf = (file) => ({ '.ts': 'ts', '.mts': 'ts', '.cts': 'ts', '.tsx': 'tsx' })[extname(file)] || 'js';

/** esbuild cannot write top-level await as CommonJS, and says so: the exact test. */
async function refuseTopLevelAwait(file, source) {
  try {
    await esbuild.transform(source, { loader: loaderOf(file), format: 'cjs', logLevel: 'silent' });
  } catch (e) {
    if (/top-level await/i.test(String(e && e.message))) {
      throw new Error(`${NAME}: ${file} uses top-level await; its lazy chunks import it, and one loaded while it awaits would wait for it for ever`);
    }
    throw e;
  }
}

function refuseVariableExports(cwd, path) {
  if (/^export\s+(let|var)\s/m.test(readFileSync(resolve(cwd, path), 'utf8'))) {
    throw new Error(`${NAME}: ${path} exports a variable (let or var), which lazy code, reading it once as it loads, would not see change; export a constant or a function`);
  }
}

/**
 * What one function's build shares: the modules its cold start loads
 * (`eager`), those of them lazy modules import (`modules`, as the metafile
 * names them), every export of each (`exports`) and those lazy code uses (`used`).
 */
async function planFor(options, others, cwd, entryFile, entryOutput) {
  const quiet = { ...options, plugins: others, write: false, metafile: true, sourcemap: false, logLevel: 'silent' };
  const { inputs } = (await esbuild.build(quiet)).metafile;
  const eager = new Set();
  const walk = (path) => {
    if (eager.has(path) || !inputs[path]) return;
    eager.add(path);
    for (const i of inputs[path].imports) if (i.kind === 'import-statement' && !i.external) walk(i.path);
  };
  walk(metaPath(cwd, entryFile));
  const shared = new Set();
  for (const [path, input] of Object.entries(inputs)) {
    if (eager.has(path) || !isProjectModule(path)) continue;
    for (const i of input.imports) if (i.kind === 'import-statement' && eager.has(i.path)) shared.add(i.path);
  }
  const modules = [...shared].sort();
  const plan = { eager: [...eager], modules, exports: [], used: [] };
  if (modules.length === 0) return plan;
  for (const m of modules) if (isProjectModule(m)) refuseVariableExports(cwd, m);

  // Every export of each: a build of them as entries lists them.
  const { outputs } = (
    await esbuild.build({ entryPoints: modules.map((m) => resolve(cwd, m)), absWorkingDir: cwd, bundle: true, splitting: true, format: 'esm', platform: options.platform, target: options.target, define: options.define, outdir: options.outdir, write: false, metafile: true, logLevel: 'silent' })
  ).metafile;
  plan.exports = modules.map((m) => (Object.values(outputs).find((o) => o.entryPoint === m) || { exports: [] }).exports);

  // Those lazy code uses: a build whose entry offers them all. Its lazy chunks name the aliases they read.
  const trial = await esbuild.build({ ...quiet, metafile: false, plugins: [...others, eagerCore({ ...plan, used: plan.exports })] });
  const used = modules.map(() => new Set());
  for (const file of trial.outputFiles) {
    if (basename(file.path) === basename(entryOutput)) continue;
    for (const [, i, name] of file.text.matchAll(ALIAS)) used[Number(i)].add(name);
  }
  plan.used = plan.exports.map((names, i) => names.filter((n) => used[i].has(n)));
  return plan;
}

/** @param given the plan of the trial build (planFor); the deployment's builds find their own. */
function eagerCore(given) {
  return {
    name: NAME,
    async setup(build) {
      const options = build.initialOptions;
      if (!options.splitting) return;
      const entries = Array.isArray(options.entryPoints) ? options.entryPoints : [];
      if (entries.length !== 1 || typeof entries[0] !== 'string') throw new Error(`${NAME}: builds one function at a time, from one entry file`);
      if (options.chunkNames && options.chunkNames.includes('/')) throw new Error(`${NAME}: needs every chunk beside the entry (chunkNames without a directory)`);
      const cwd = options.absWorkingDir || process.cwd();
      const entryFile = resolve(cwd, entries[0]);
      const entrySource = readFileSync(entryFile, 'utf8');
      const entryOutput = `./${basename(entryFile, extname(entryFile))}${(options.outExtension && options.outExtension['.js']) || '.js'}`;
      const others = (options.plugins || []).filter((p) => p.name !== NAME);
      if (!given) await refuseTopLevelAwait(entryFile, entrySource);
      const plan = given || (await planFor(options, others, cwd, entryFile, entryOutput));
      if (plan.modules.length === 0) return;
      const eager = new Set(plan.eager);

      // The entry re-exports, under aliases, what lazy code uses of the shared modules.
      build.onLoad({ filter: /.*/ }, (args) => {
        if (args.path !== entryFile || args.namespace !== 'file') return undefined;
        const reexports = plan.modules.map((m, i) => `export { ${plan.used[i].map((n) => `${n} as ${alias(i, n)}`).join(', ')} } from ${JSON.stringify(resolve(cwd, m))};`);
        return { contents: `${entrySource}\n${reexports.join('\n')}\n`, loader: loaderOf(entryFile), resolveDir: dirname(entryFile) };
      });

      // A lazy module's import of a shared module: the same exports, read from the entry.
      build.onResolve({ filter: /.*/ }, async (args) => {
        if (args.pluginData === SKIP || args.kind !== 'import-statement' || args.namespace !== 'file') return undefined;
        const importer = metaPath(cwd, args.importer);
        if (!isProjectModule(importer) || eager.has(importer)) return undefined;
        const target = await build.resolve(args.path, { kind: args.kind, importer: args.importer, resolveDir: args.resolveDir, pluginData: SKIP });
        const i = plan.modules.indexOf(metaPath(cwd, target.path));
        return i < 0 ? undefined : { path: String(i), namespace: SHARED, sideEffects: false };
      });
      // Each export copied to a constant, which tree shaking drops when lazy code does not use it (a re-export
      // from another file esbuild keeps whole), so that the trial build's chunks name only what they use.
      build.onLoad({ filter: /.*/, namespace: SHARED }, (args) => {
        const i = Number(args.path);
        const copies = plan.exports[i].map((n, k) => `const v${k} = entry.${alias(i, n)};\nexport { v${k} as ${n} };`);
        return { contents: `import * as entry from ${JSON.stringify(entryOutput)};\n${copies.join('\n')}\n`, loader: 'js' };
      });
      build.onResolve({ filter: /.*/, namespace: SHARED }, (args) => ({ path: args.path, external: true }));
    },
  };
}

/** serverless-esbuild's form (custom.esbuild.plugins): a function returning the plugins. */
module.exports = () => [eagerCore()];
module.exports.eagerCore = eagerCore;
