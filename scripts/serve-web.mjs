// `npm run web`: serves the page (web/), the browser module (dist/browser/) and, with
// --models DIR, the model folders under DIR (at /models/NAME/), on 127.0.0.1 only.
// Built on Node's http module; nothing is fetched from anywhere else.
import { createReadStream, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.json': 'application/json; charset=utf-8', '.jsonl': 'text/plain; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8', '.map': 'application/json; charset=utf-8', '.svg': 'image/svg+xml', '.ts': 'text/plain; charset=utf-8',
};

/** The file a URL path names inside `base`, or null when it would leave `base`. */
function inside(base, urlPath) {
  const path = normalize(join(base, decodeURIComponent(urlPath)));
  return path === base || path.startsWith(base.endsWith(sep) ? base : base + sep) ? path : null;
}

/** Maps a request path to a file: / and /web/* to web/, /dist/browser/* to the bundle, /models/* to the models folder. */
function fileFor(urlPath, models) {
  if (urlPath === '/' || urlPath === '/index.html') return join(root, 'web', 'index.html');
  if (urlPath.startsWith('/web/')) return inside(join(root, 'web'), urlPath.slice('/web/'.length));
  if (urlPath.startsWith('/dist/browser/')) return inside(join(root, 'dist', 'browser'), urlPath.slice('/dist/browser/'.length));
  if (models && urlPath.startsWith('/models/')) return inside(models, urlPath.slice('/models/'.length));
  return null;
}

/** Starts the server; resolves to { url, close() }. Port 0 picks a free port. */
export function serve({ port = 8080, models = null } = {}) {
  const modelsDir = models ? resolve(models) : null;
  const server = createServer((request, response) => {
    const urlPath = new URL(request.url ?? '/', 'http://127.0.0.1').pathname;
    let file = null;
    try {
      file = fileFor(urlPath, modelsDir);
    } catch {
      file = null; // a malformed %-escape
    }
    let size = -1;
    try {
      if (file) {
        const stats = statSync(file);
        if (stats.isFile()) size = stats.size;
      }
    } catch {
      size = -1;
    }
    if (size < 0 || (request.method !== 'GET' && request.method !== 'HEAD')) {
      response.writeHead(size < 0 ? 404 : 405, { 'content-type': 'text/plain; charset=utf-8' });
      response.end(size < 0 ? `not found: ${urlPath}\n` : 'only GET and HEAD\n');
      return;
    }
    response.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'content-length': size, 'cache-control': 'no-cache' });
    if (request.method === 'HEAD') response.end();
    else createReadStream(file).pipe(response);
  });
  return new Promise((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const url = `http://127.0.0.1:${server.address().port}/`;
      resolvePromise({ url, close: () => new Promise((done) => server.close(() => done())) });
    });
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const option = (name) => {
    const at = args.indexOf(name);
    return at >= 0 ? args[at + 1] : undefined;
  };
  if (args.includes('--help')) {
    console.log('usage: npm run web [-- --port N] [-- --models DIR]\nServes the SimBERT page on http://127.0.0.1:PORT/ (default 8080); --models DIR also serves DIR\'s model folders at /models/NAME/.');
    process.exit(0);
  }
  const port = Number(option('--port') ?? 8080);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`serve-web: --port must be a port number, got '${option('--port')}'`);
    process.exit(2);
  }
  const { url } = await serve({ port, models: option('--models') ?? null });
  console.log(`SimBERT page: ${url}  (Ctrl-C stops it)`);
}
