'use strict';

/*
 * The fingerprint of the code a deployment is built from: SHA-256 over every
 * file under src/ (path and content) and the lockfile (the versions of zod,
 * js-yaml and the rest). Packaging bakes it into each function's bundle and
 * records it in the validated copy of the configuration, which a function
 * then loads only when the two agree: settings validated by other code (an
 * older rolegate, other checks, other defaults) are never taken on trust.
 */

const { createHash } = require('node:crypto');
const { readdirSync, readFileSync } = require('node:fs');
const { join, relative, sep } = require('node:path');

function filesUnder(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : e.isFile() ? [join(dir, e.name)] : []));
}

function codeFingerprint(root) {
  const files = [join(root, 'package-lock.json'), ...filesUnder(join(root, 'src'))].map((f) => ({ f, name: relative(root, f).split(sep).join('/') }));
  files.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const hash = createHash('sha256');
  for (const { f, name } of files) hash.update(`${name}\0`).update(readFileSync(f)).update('\0');
  return hash.digest('hex');
}

module.exports = { codeFingerprint };
