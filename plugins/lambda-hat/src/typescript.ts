/**
 * Nx compiles a plugin's TypeScript only while it loads the plugin and its executors, then removes
 * its hook. Code an executor loads later by path (the sampler registry loads samplers by name) needs
 * the hook back: the same compiler bin/lambda-hat.js registers for the workers (bin/typescript.js).
 */
export function keepTypeScriptLoadable(): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require('../../../bin/typescript.js').registerTypeScript();
}
