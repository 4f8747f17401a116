/**
 * Headless Chromium (Debian's `chromium`, driven by playwright-core) for checking pages as a
 * browser renders them. .ci/run installs it; elsewhere, tests that need it skip with a loud
 * message when it is missing, and fail under CI.
 */
import { existsSync } from 'node:fs';
import { Browser, chromium } from 'playwright-core';

const executable = process.env.CHROMIUM ?? '/usr/bin/chromium';
export const hasChromium = existsSync(executable);

if (!hasChromium) {
  const message = `Chromium not found at ${executable}: the report test cannot run (apt-get install chromium, or set CHROMIUM)`;
  if (process.env.CI) throw new Error(message);
  console.warn(`\n*** SKIPPING: ${message} ***\n`);
}

/** The flags of the developers' guide: no sandbox (root in a container), no GPU, no background traffic. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: executable, headless: true, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
}
