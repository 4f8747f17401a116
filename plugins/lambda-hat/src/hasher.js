// Nx loads custom hashers in its own process, without the TypeScript hook it gives executors:
// register the compiler the workers use (bin/lambda-hat.js), then load the hasher (hasher.ts).
const { join } = require('node:path');
if (!require.extensions['.ts']) {
  process.env.SWC_NODE_PROJECT = process.env.SWC_NODE_PROJECT || join(__dirname, '..', '..', '..', 'tsconfig.json');
  require('@swc-node/register');
}
module.exports = require('./hasher.ts');
