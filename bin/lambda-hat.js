#!/usr/bin/env node
// Loads the TypeScript sources directly (no build step, so code and cache keys never disagree).
const { join } = require('node:path');
process.env.SWC_NODE_PROJECT = process.env.SWC_NODE_PROJECT || join(__dirname, '..', 'tsconfig.json');
require('@swc-node/register');
// `tune` drives a backend, which lives in the Nx plugin; everything else is the workers' CLI.
const args = process.argv.slice(2);
const cli = args[0] === 'tune' ? require('../runner/tune-cli.ts') : require('../rules/cli.ts');
cli
  .main(args[0] === 'tune' ? args.slice(1) : args)
  .then((code) => process.exit(code))
  .catch((e) => {
    console.error(e);
    process.exit(1);
  });
