#!/usr/bin/env node
// Loads the TypeScript sources directly (no build step, so code and cache keys never disagree).
const { join } = require('node:path');
process.env.SWC_NODE_PROJECT = process.env.SWC_NODE_PROJECT || join(__dirname, '..', 'tsconfig.json');
require('@swc-node/register');
// `tune` and `chunk` drive workers and `cache` serves a remote cache: the runner's part; everything else is the workers' CLI.
const RUNNER = { tune: '../runner/tune-cli.ts', chunk: '../runner/chunk.ts', cache: '../runner/cache-server.ts', 'kernel-key': '../runner/kernel-keys.ts' };
const args = process.argv.slice(2);
const runner = RUNNER[args[0]];
const cli = runner ? require(runner) : require('../rules/cli.ts');
cli
  .main(runner ? args.slice(1) : args)
  .then((code) => process.exit(code))
  .catch((e) => {
    console.error(e);
    process.exit(1);
  });
