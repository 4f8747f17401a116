/**
 * The Nx project of a tuning file: `tune-<name>` (an experiment's project is its own name). Apart
 * from graph.ts so that the plugin's entry can name projects without loading the rules graph.ts
 * imports.
 */
export const tuneProjectName = (name: string) => `tune-${name}`;
