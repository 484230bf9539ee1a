#!/usr/bin/env node
// Runs the bundled CLI when built (npm run build:cli), else the TypeScript source through tsx.
const { existsSync } = require('node:fs');
// The AWS SDK warns on stderr, once per process, that it will need Node 22 from 2027: a CLI whose --json errors
// are one JSON line on stderr must not print it (rolegate runs on Node 20 and 22 alike). A value set stays.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const { join } = require('node:path');

async function load() {
  const bundled = join(__dirname, '..', 'dist', 'cli.js');
  if (existsSync(bundled)) return require(bundled);
  // The source needs both of tsx's hooks: require()'s for main.ts and what it imports statically, and the ES
  // module loader's for the import() calls the CLI makes lazily (validate-config, plan), which Node resolves
  // without require()'s hooks. tsx/esm/api is imported, not required: the CommonJS build of it (tsx 4.23)
  // registers its loader by a path that does not exist.
  require('tsx/cjs');
  // module.register (Node 20.6+) carries that hook; before it, every command but validate-config and plan still runs.
  if (typeof require('node:module').register === 'function') (await import('tsx/esm/api')).register();
  return require(join(__dirname, '..', 'src', 'cli', 'main.ts'));
}

load()
  .then(({ main }) => main(process.argv.slice(2), { out: (l) => console.log(l), err: (l) => console.error(l), env: process.env }))
  // exitCode, not exit(): output still queued for a pipe (asynchronous on macOS) is written before Node ends.
  .then((code) => (process.exitCode = code));
