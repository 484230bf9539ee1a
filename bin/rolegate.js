#!/usr/bin/env node
// Runs the bundled CLI when built (npm run build:cli), else the TypeScript source through tsx.
const { existsSync } = require('node:fs');
const { join } = require('node:path');
const bundled = join(__dirname, '..', 'dist', 'cli.js');
if (!existsSync(bundled)) require('tsx/cjs');
const { main } = require(existsSync(bundled) ? bundled : join(__dirname, '..', 'src', 'cli', 'main.ts'));
main(process.argv.slice(2), { out: (l) => console.log(l), err: (l) => console.error(l), env: process.env }).then((code) => process.exit(code));
