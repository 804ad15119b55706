// Serves the example pages on http://localhost:<port>/ (default 5173): the
// shop (/), with the built SDK (../../sdk/dist) at /sdk/, and the passkeys
// page (/passkeys.html, no SDK). Usage: node serve.mjs [port]
import http from 'node:http';
import { readFile } from 'node:fs/promises';
import { join, dirname, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const types = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript' };

/** A static server for `files`: URL path → file on disk (or a directory prefix ending in /). */
export function serve(port, files) {
  const server = http.createServer(async (req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    const prefix = Object.keys(files).find((p) => p.endsWith('/') && path.startsWith(p) && p !== '/');
    let file = files[path];
    if (!file && prefix) {
      const rest = normalize(path.slice(prefix.length));
      if (!rest.startsWith('..')) file = join(files[prefix], rest);
    }
    try {
      if (!file) throw new Error('not found');
      const body = await readFile(file);
      const type = types[file.slice(file.lastIndexOf('.'))] ?? 'application/octet-stream';
      res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' }).end(body);
    } catch {
      res.writeHead(404).end('not found');
    }
  });
  return new Promise((resolve) => server.listen(port, 'localhost', () => resolve(server)));
}

export const exampleFiles = {
  '/': join(here, 'index.html'),
  '/index.html': join(here, 'index.html'),
  '/app.js': join(here, 'app.js'),
  '/passkeys.html': join(here, 'passkeys.html'),
  '/passkeys.js': join(here, 'passkeys.js'),
  '/sdk/': join(here, '..', '..', 'sdk', 'dist'),
};

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const port = Number(process.argv[2] ?? 5173);
  await serve(port, exampleFiles);
  console.log(`http://localhost:${port}/?endpoint=http://localhost:4000/graphql/storefront&apiKey=pk_…`);
  console.log(`http://localhost:${port}/passkeys.html?endpoint=http://localhost:4000/graphql/public&apiKey=pk_…`);
}
