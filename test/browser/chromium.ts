/**
 * Headless Chromium for the browser tests: Debian's chromium (scripts/setup.sh installs it),
 * driven by playwright-core, on the two WebGPU adapters it offers on a machine without a GPU.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { environmentWithoutEngineSettings } from '../../src/node/lavapipe-width.js';

/**
 * The checkout this file was compiled from: the first folder above it with a package.json (the
 * compiled file may sit in a build folder that dist/ and build/ are links to).
 */
export function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
  return dir;
}

export const CHROMIUM = process.env.SIMBERT_CHROMIUM ?? '/usr/lib/chromium/chromium';

/** The two adapters: SwiftShader (core, subgroups of 4) and ANGLE on lavapipe (compatibility mode, no subgroups). */
export const ADAPTERS = {
  swiftshader: ['--enable-unsafe-webgpu', '--disable-gpu'],
  compat: ['--enable-unsafe-webgpu', '--use-angle=vulkan', '--use-webgpu-adapter=opengles', '--force-webgpu-compat'],
} as const;
export type AdapterName = keyof typeof ADAPTERS;

// Without the background-networking flags Chromium's connections are refused by a closed network.
const COMMON_FLAGS = [
  '--no-sandbox', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--disable-quic', '--disable-default-apps', '--mute-audio',
];

/** Why the browser tests cannot run here, or null when Chromium is present. */
export function chromiumMissing(): string | null {
  return existsSync(CHROMIUM) ? null : `Chromium is not installed at ${CHROMIUM} (scripts/setup.sh installs Debian's chromium; SIMBERT_CHROMIUM names another)`;
}

export interface BrowserSession {
  page: Page;
  /** Console errors (other than 404s) and uncaught page errors. */
  problems: string[];
  close(): Promise<void>;
}

/** A fresh headless Chromium (new profile) on one adapter, with a page open at `url`. */
export async function openPage(adapter: AdapterName, url: string): Promise<BrowserSession> {
  const profile = mkdtempSync(join(tmpdir(), 'simbert-chromium-'));
  const context: BrowserContext = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true, args: [...COMMON_FLAGS, ...ADAPTERS[adapter]], viewport: { width: 1000, height: 900 },
    env: environmentWithoutEngineSettings(),
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    // A 404 is how a page learns that a folder lacks a file (telling the kinds of model folder apart).
    if (message.type() === 'error' && !/status of 404/.test(message.text())) problems.push(`console: ${message.text()}`);
  });
  await page.goto(url);
  return {
    page,
    problems,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

interface WebServer {
  url: string;
  close(): Promise<void>;
}

/** scripts/serve-web.mjs on a free port, serving the page, the bundle and `models`. */
export async function serveWeb(models: string): Promise<WebServer> {
  const script = join(projectRoot(), 'scripts', 'serve-web.mjs');
  const { serve } = (await import(script)) as { serve(options: { port: number; models: string }): Promise<WebServer> };
  return serve({ port: 0, models });
}
