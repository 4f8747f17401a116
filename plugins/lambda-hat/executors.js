'use strict';
/**
 * The executors that executors.json names, each loaded when Nx first asks for it. They are
 * TypeScript, compiled by the CLI's own hook (bin/typescript.js): an implementation ending in .ts
 * would make Nx register @swc-node/register in the process it forks for the task, which loads the
 * TypeScript compiler, ~150 ms of every such process (the run table's task on every command, a
 * batch's process for every batch).
 */
require('../../bin/typescript.js').registerTypeScript();

const MODULES = {
  run: './src/executor.ts',
  batch: './src/batch.ts',
  configError: './src/config-error.ts',
  tune: './src/tune-executor.ts',
  summary: './src/summary-executor.ts',
  watch: './src/watch-executor.ts',
};

for (const [name, file] of Object.entries(MODULES)) Object.defineProperty(module.exports, name, { enumerable: true, get: () => require(file).default });
