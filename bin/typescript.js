'use strict';
/**
 * Compiles the project's TypeScript as Node loads it, for the lambda-hat CLI and its workers: each
 * .ts file goes through @swc/core (types stripped, ES modules to CommonJS for ES2022, as
 * tsconfig.base.json says) from a require hook (pirates), with inline source maps so that a stack
 * trace names the TypeScript line.
 *
 * Why not @swc-node/register, which Nx itself uses to load the plugin: it loads the TypeScript
 * compiler to read tsconfig.json, 130 ms of every process's start, more than compiling every file a
 * process loads (the kernel-key runtime input, which Nx runs twice per command: 30 files in 20 ms;
 * 0.31 s → 0.18 s in all). Options are fixed here instead; tsconfig.json stays what the type
 * checker reads.
 */
const { transformSync } = require('@swc/core');
const { addHook } = require('pirates');

const OPTIONS = {
  swcrc: false,
  configFile: false,
  sourceMaps: 'inline',
  module: { type: 'commonjs' },
  jsc: { parser: { syntax: 'typescript' }, target: 'es2022', keepClassNames: true, transform: { useDefineForClassFields: true } },
};

/** Installs the hook once per process. */
function registerTypeScript() {
  if (require.extensions['.ts']) return;
  process.setSourceMapsEnabled(true);
  addHook((code, filename) => transformSync(code, { ...OPTIONS, filename }).code, { exts: ['.ts'] });
}

module.exports = { registerTypeScript };
