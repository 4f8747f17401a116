'use strict';
/**
 * The plugin's entry, which nx.json names: its TypeScript is compiled by the CLI's own hook
 * (bin/typescript.js), as the executors' are (executors.js). A plugin entry in TypeScript would make
 * Nx register @swc-node/register in its own process, which loads the TypeScript compiler: ~150 ms
 * of every nx command.
 */
require('../../bin/typescript.js').registerTypeScript();
module.exports = require('./index.ts');
