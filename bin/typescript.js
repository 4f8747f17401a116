'use strict';
/**
 * Compiles the project's TypeScript as Node loads it, for the lambda-hat CLI and its workers: each
 * .ts file goes through @swc/core (types stripped, ES modules to CommonJS for ES2022, as
 * tsconfig.base.json says) from a require hook (pirates), with inline source maps so that a stack
 * trace names the TypeScript line.
 *
 * Why not @swc-node/register, which Nx itself uses to load the plugin: it loads the TypeScript
 * compiler to read tsconfig.json, 130 ms of every process's start, more than compiling every file a
 * process loads (the kernel-key runtime input, which Nx runs several times per command: 30 files in
 * 20 ms; 0.31 s → 0.18 s in all). Options are fixed here instead; tsconfig.json stays what the type
 * checker reads.
 *
 * Compiled files are kept in node_modules/.cache/lambda-hat/typescript, named by a hash of the
 * compiler's version, these options, the file's path and its source, so an edit or another swc
 * compiles afresh and nothing needs clearing. A process whose files are all there never loads swc:
 * reading them is ~50 ms less of every start (kernel-key 0.22 s → 0.14 s), and Nx starts several
 * such processes for every command, cached or not. Entries are written under a temporary name and
 * renamed, so concurrent processes never read half a file; where the folder cannot be written, each
 * process compiles as before.
 */
const { createHash } = require('node:crypto');
const { mkdirSync, readFileSync, renameSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');
const { addHook } = require('pirates');

const OPTIONS = {
  swcrc: false,
  configFile: false,
  sourceMaps: 'inline',
  module: { type: 'commonjs' },
  jsc: { parser: { syntax: 'typescript' }, target: 'es2022', keepClassNames: true, transform: { useDefineForClassFields: true } },
};

const CACHE = join(__dirname, '..', 'node_modules', '.cache', 'lambda-hat', 'typescript');
// The compiler's version from its package.json: loading the compiler itself is what the cache avoids.
const COMPILER = `@swc/core ${require('@swc/core/package.json').version} ${JSON.stringify(OPTIONS)}`;

let swc;
const compile = (code, filename) => {
  swc ??= require('@swc/core');
  return swc.transformSync(code, { ...OPTIONS, filename }).code;
};

/** Where the compiled `code` of `filename` is kept. */
const entryFor = (code, filename) => join(CACHE, `${createHash('sha256').update(`${COMPILER}\0${filename}\0${code}`).digest('hex')}.js`);

function compileCached(code, filename) {
  const entry = entryFor(code, filename);
  try {
    return readFileSync(entry, 'utf8');
  } catch {
    // Not compiled yet (or unreadable): compile, and keep it for the next process if we can.
  }
  const out = compile(code, filename);
  try {
    mkdirSync(CACHE, { recursive: true });
    const temporary = `${entry}.${process.pid}.tmp`;
    writeFileSync(temporary, out);
    renameSync(temporary, entry);
  } catch {
    // A read-only or full disk: the next process compiles again.
  }
  return out;
}

/** Installs the hook once per process. */
function registerTypeScript() {
  if (require.extensions['.ts']) return;
  process.setSourceMapsEnabled(true);
  addHook(compileCached, { exts: ['.ts'] });
}

module.exports = { registerTypeScript, entryFor };
