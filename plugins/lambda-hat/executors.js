'use strict';
/**
 * The executors that executors.json names, each loaded when Nx first asks for it. They are
 * TypeScript, compiled by the CLI's own hook (bin/typescript.js): an implementation ending in .ts
 * would make Nx register @swc-node/register in the process it forks for the task, which loads the
 * TypeScript compiler, ~150 ms of every such process (the run table's task on every command, a
 * batch's process for every batch).
 */
require('../../bin/typescript.js').registerTypeScript();

const load = (file) => require(file).default;

module.exports = {
  get run() {
    return load('./src/executor.ts');
  },
  get batch() {
    return load('./src/batch.ts');
  },
  get configError() {
    return load('./src/config-error.ts');
  },
  get tune() {
    return load('./src/tune-executor.ts');
  },
  get summary() {
    return load('./src/summary-executor.ts');
  },
  get watch() {
    return load('./src/watch-executor.ts');
  },
};
