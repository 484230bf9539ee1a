#!/usr/bin/env node
/*
 * npm records an optional platform package in package-lock.json only if the
 * registry serves it; `npm ci` then rejects the lockfile for every optional
 * package that is missing (npm/cli#9846). This adds a versioned entry for each
 * missing optional dependency, marked optional with its parent's os/cpu
 * unknown, so `npm ci` validates; npm never installs them on a platform they
 * are not for. Run after `npm install` when the lockfile changes.
 */
const fs = require('node:fs');
const path = require('node:path');
const file = path.join(__dirname, '..', 'package-lock.json');
const lock = JSON.parse(fs.readFileSync(file, 'utf8'));
let added = 0;
for (const [key, entry] of Object.entries(lock.packages)) {
  for (const [name, spec] of Object.entries(entry.optionalDependencies ?? {})) {
    const candidates = [`${key ? `${key}/` : ''}node_modules/${name}`, `node_modules/${name}`];
    if (candidates.some((c) => lock.packages[c])) continue;
    const version = String(spec).replace(/^[\^~=]/, '');
    lock.packages[`node_modules/${name}`] = { version, ...(entry.dev ? { dev: true } : {}), optional: true, os: ['none'], cpu: ['none'] };
    added++;
  }
}
lock.packages = Object.fromEntries(Object.entries(lock.packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b))));
fs.writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`added ${added} optional lock entries`);
