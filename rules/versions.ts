import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Versions recorded in artifacts; nothing here enters an id or a cache key. */
export function versions(): Record<string, string> {
  const pkg = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8'));
  return { lambda_hat: pkg.version, node: process.version };
}
