import { build, type BuildOptions, type Metafile } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { eagerCore } = require('../../../scripts/esbuild-eager-core.js') as { eagerCore: () => import('esbuild').Plugin };

/*
 * The build plugin that keeps a function's cold-start code in its entry file
 * (scripts/esbuild-eager-core.js), on a project of four files: an entry, a
 * module it shares with a lazily loaded one, and a module only the lazy one
 * uses. bundles.test.ts checks the functions themselves.
 */
describe('the eager-core build plugin', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'rolegate-eager-core-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const write = (files: Record<string, string>) => {
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  };
  const buildEntry = async (options: BuildOptions = {}) =>
    (await build({ entryPoints: [join(dir, 'entry.ts')], absWorkingDir: dir, bundle: true, splitting: true, format: 'esm', platform: 'node', outdir: join(dir, 'out'), outExtension: { '.js': '.mjs' }, metafile: true, logLevel: 'silent', plugins: [eagerCore()], ...options })).metafile;
  const PROJECT = {
    // Counts its evaluations (two copies would count two) and its bumps.
    'shared.ts': 'export class Thing {}\nexport const unusedByLazy = () => 1;\nexport let bumps = 0;\nexport const bump = () => { bumps += 1; };\n(globalThis as any).evaluations = ((globalThis as any).evaluations ?? 0) + 1;\n',
    'lazy-only.ts': 'export const hello = (s: string) => `hello ${s}`;\n',
    'lazy.ts': "import { Thing, bumps } from './shared';\nimport { hello } from './lazy-only';\nexport const check = (t: unknown) => ({ same: t instanceof Thing, said: hello('lazy') });\nexport const seen = () => bumps;\n",
    'entry.ts': "import { Thing, bump, unusedByLazy } from './shared';\nexport const thing = new Thing();\nexport const n = unusedByLazy();\nbump();\nexport const later = async () => { const lazy = await import('./lazy'); bump(); return { ...lazy.check(thing), bumps: lazy.seen() }; };\n",
  };

  it('keeps the shared module in the entry, evaluated once, and lazy code gets its instances', async () => {
    write(PROJECT);
    const meta: Metafile = (await buildEntry())!;

    const files = Object.fromEntries(Object.entries(meta.outputs).map(([f, o]) => [f.split('/').pop()!, Object.keys(o.inputs)]));
    // The entry and the lazy module's file, named after the entry: no chunk for the shared module.
    expect(Object.keys(files).map((f) => f.replace(/-[A-Z0-9]+\.mjs$/, '.mjs')).sort()).toEqual(['entry.lazy.mjs', 'entry.mjs']);
    expect(files['entry.mjs']).toEqual(expect.arrayContaining(['shared.ts', 'entry.ts']));
    // The entry re-exports only what lazy code reads of the shared module.
    expect(meta.outputs['out/entry.mjs']!.exports.sort()).toEqual(['__rg0_Thing', '__rg0_bumps', 'later', 'n', 'thing']);

    const run = execFileSync(process.execPath, ['--input-type=module', '-e', `const m = await import(${JSON.stringify(join(dir, 'out', 'entry.mjs'))}); const r = await m.later(); console.log(JSON.stringify({ ...r, evaluations: globalThis.evaluations }));`]).toString();
    // One evaluation; lazy code's Thing is the entry's; it sees the bump made after it loaded (a live binding).
    expect(JSON.parse(run)).toEqual({ same: true, said: 'hello lazy', bumps: 2, evaluations: 1 });
  });

  it('refuses top-level await in the code a cold start loads, the entry\'s or a module\'s it imports: a lazy chunk importing the entry could wait on it for ever', async () => {
    write({ ...PROJECT, 'entry.ts': `${PROJECT['entry.ts']}await Promise.resolve();\n` });
    await expect(buildEntry()).rejects.toThrow(/entry\.ts \(with what it imports\) uses top-level await/);
    write({ ...PROJECT, 'shared.ts': `${PROJECT['shared.ts']}await Promise.resolve();\n` });
    await expect(buildEntry()).rejects.toThrow(/entry\.ts \(with what it imports\) uses top-level await/);
  });

  it('refuses top-level await in a chunk the entry loads at cold start (package code it shares with a lazy package module)', async () => {
    mkdirSync(join(dir, 'node_modules', 'pkg'), { recursive: true });
    write({
      ...PROJECT,
      'node_modules/pkg/package.json': '{"name":"pkg","type":"module","exports":{"./core":"./core.js","./lazy":"./lazy.js"}}',
      'node_modules/pkg/core.js': 'export const ready = await Promise.resolve(1);\n',
      'node_modules/pkg/lazy.js': "import { ready } from './core.js';\nexport const twice = ready * 2;\n",
      'entry.ts': `${PROJECT['entry.ts']}import { ready } from 'pkg/core';\nexport const r = ready;\nexport const pkgLater = () => import('pkg/lazy');\n`,
    });
    await expect(buildEntry()).rejects.toThrow(/entry\.ts \(with what it imports\) uses top-level await/);
  });

  it('refuses outputs not beside the entry, which the lazy chunks name as ./entry.mjs', async () => {
    write(PROJECT);
    await expect(buildEntry({ chunkNames: 'chunks/[name]-[hash]' })).rejects.toThrow(/needs every output beside the entry, named \.\/entry\.mjs/);
  });
});
