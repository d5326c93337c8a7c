/**
 * Browser encode speed: the page bundle (bench/browser-page.ts) in headless Chromium on its two
 * adapters (SwiftShader; ANGLE on lavapipe in compatibility mode), beside the Node figure.
 */
import { build } from 'esbuild';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromiumMissing, openPage, projectRoot, type AdapterName } from '../test/browser/chromium.js';
import { bertConfig, benchBatch, type ModelConfigSpec } from './step.js';

export interface BrowserEncodeResult {
  adapter: AdapterName;
  description: string;
  medianMs: number;
  sentencesPerSecond: number;
}

/** Encode of `rows` x `tokens` on each Chromium adapter, or the reason it was skipped. */
export async function benchBrowserEncode(spec: ModelConfigSpec, rows: number, tokens: number, samples: number): Promise<BrowserEncodeResult[] | { skipped: string }> {
  const missing = chromiumMissing();
  if (missing) return { skipped: missing };
  const dir = mkdtempSync(join(tmpdir(), 'simbert-bench-browser-'));
  try {
    await build({
      entryPoints: [join(projectRoot(), 'bench', 'browser-page.ts')],
      outfile: join(dir, 'bench.js'), bundle: true, format: 'esm', platform: 'browser', target: 'es2022', logLevel: 'warning',
    });
    writeFileSync(join(dir, 'index.html'), '<!doctype html><meta charset="utf-8"><title>bench</title>');
    const server = createServer((request, response) => {
      const name = request.url === '/bench.js' ? 'bench.js' : 'index.html';
      response.writeHead(200, { 'content-type': name.endsWith('.js') ? 'text/javascript' : 'text/html' });
      response.end(readFileSync(join(dir, name)));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
    const batch = benchBatch(rows, tokens, spec.vocab, true);
    const input = { rows, tokens, tokenIds: Array.from(batch.tokenIds), segmentIds: Array.from(batch.segmentIds) };
    const results: BrowserEncodeResult[] = [];
    try {
      for (const adapter of ['swiftshader', 'compat'] as const) {
        const session = await openPage(adapter, url);
        try {
          const measured = await session.page.evaluate(async ({ config, input, samples }) => {
            const moduleUrl = '/bench.js';
            const bench = await import(moduleUrl);
            return bench.benchEncodeInPage(config, input, samples);
          }, { config: bertConfig(spec), input, samples });
          results.push({ adapter, description: `${measured.adapter.description}, matmul ${measured.adapter.matmul}`, medianMs: measured.medianMs, sentencesPerSecond: measured.sentencesPerSecond });
        } finally {
          await session.close();
        }
      }
    } finally {
      server.close();
    }
    return results;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The markdown table of browser encode speed beside the Node figure of the same shape. */
export async function browserEncodeSection(spec: ModelConfigSpec, rows: number, tokens: number, node: readonly { config: string; rows: number; tokens: number; sentencesPerSecond: number }[]): Promise<string> {
  const measured = await benchBrowserEncode(spec, rows, tokens, 3);
  if ('skipped' in measured) return `skipped: ${measured.skipped}`;
  const nodeFigure = node.find((r) => r.config === spec.name && r.rows === rows && r.tokens === tokens)?.sentencesPerSecond ?? NaN;
  const lines = [
    '| where | adapter | rows x tokens | ms | sentences / s | ratio (browser / Node) |',
    '|---|---|---|---:|---:|---:|',
    `| Node (Dawn) | this run's adapter | ${rows} x ${tokens} | ${(rows * 1000 / nodeFigure).toFixed(1)} | ${nodeFigure.toFixed(1)} | 1.00 |`,
    ...measured.map((r) => `| Chromium, ${r.adapter} | ${r.description} | ${rows} x ${tokens} | ${r.medianMs.toFixed(1)} | ${r.sentencesPerSecond.toFixed(1)} | ${(r.sentencesPerSecond / nodeFigure).toFixed(2)} |`),
  ];
  return `${spec.name} config, random weights, pooled vectors read back; the same measurement as the table above.\n\n${lines.join('\n')}`;
}
