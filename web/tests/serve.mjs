// A small static server for web/dist: binds 127.0.0.1 only, sends the page's
// Content-Security-Policy, serves config.json from a given object and writes nothing.
//
// As a module:   const server = await startServer({ root, port: 0, config: { apiUrl } });
// Standalone:    node web/tests/serve.mjs --root web/dist --port 4020 --api-url http://127.0.0.1:4010/prod
//                (without --api-url there is no config.json: the page then asks for the URL)

import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * The page's own policy, declared once in the `<meta>` tag of src/index.html (infra reads it
 * the same way for CloudFront), plus what only a header can say: `frame-ancestors 'none'`.
 */
export const CSP = (() => {
  const page = readFileSync(fileURLToPath(new URL('../src/index.html', import.meta.url)), 'utf8');
  const meta = page.match(/http-equiv="Content-Security-Policy" content="([^"]+)"/);
  if (!meta) throw new Error('serve.mjs: src/index.html has no Content-Security-Policy <meta>');
  return `${meta[1].replace(/;\s*$/, '').trim()}; frame-ancestors 'none'`;
})();

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
};

const HOST = '127.0.0.1';

function baseHeaders() {
  return {
    'Content-Security-Policy': CSP,
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'Cache-Control': 'no-store',
  };
}

function send(res, status, type, body, method) {
  res.writeHead(status, { ...baseHeaders(), 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
  res.end(method === 'HEAD' ? undefined : body);
}

/**
 * Starts serving `root`. `config` is the object served as /config.json (null: 404).
 * Resolves to { url, port, close() } once listening.
 */
export async function startServer({ root, port = 0, config = null } = {}) {
  if (!root) throw new Error('startServer: root is required');
  const rootDir = resolve(root);
  const rootInfo = await stat(rootDir).catch(() => null);
  if (!rootInfo || !rootInfo.isDirectory()) throw new Error(`startServer: ${rootDir} is not a directory (run web/build.sh first)`);
  const configBody = config === null ? null : JSON.stringify(config);

  const server = createServer(async (req, res) => {
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.setHeader('Allow', 'GET, HEAD');
        send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n', req.method);
        return;
      }
      const { pathname } = new URL(req.url ?? '/', `http://${HOST}`);
      let path;
      try {
        path = decodeURIComponent(pathname);
      } catch {
        send(res, 400, 'text/plain; charset=utf-8', 'bad path\n', req.method);
        return;
      }
      if (path === '/config.json') {
        if (configBody === null) send(res, 404, 'text/plain; charset=utf-8', 'no config.json\n', req.method);
        else send(res, 200, TYPES['.json'], configBody, req.method);
        return;
      }
      if (path.endsWith('/')) path += 'index.html';
      const file = resolve(join(rootDir, path));
      if (file !== rootDir && !file.startsWith(rootDir + sep)) {
        send(res, 404, 'text/plain; charset=utf-8', 'not found\n', req.method);
        return;
      }
      let body;
      try {
        body = await readFile(file);
      } catch {
        send(res, 404, 'text/plain; charset=utf-8', 'not found\n', req.method);
        return;
      }
      res.writeHead(200, {
        ...baseHeaders(),
        'Content-Type': TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream',
        'Content-Length': body.length,
      });
      res.end(req.method === 'HEAD' ? undefined : body);
    } catch (error) {
      if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', 'server error\n', req.method);
      else res.destroy(error);
    }
  });

  await new Promise((resolveListen, rejectListen) => {
    server.once('error', rejectListen);
    server.listen(port, HOST, () => {
      server.off('error', rejectListen);
      resolveListen();
    });
  });
  const actualPort = server.address().port;
  return {
    url: `http://${HOST}:${actualPort}/`,
    port: actualPort,
    close: () =>
      new Promise((resolveClose) => {
        server.close(() => resolveClose());
        server.closeAllConnections();
      }),
  };
}

function parseArgs(argv) {
  const options = { root: null, port: 4020, apiUrl: null };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    const [flag, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, null];
    const value = () => {
      if (inline !== null) return inline;
      i += 1;
      if (i >= argv.length) throw new Error(`${flag} needs a value`);
      return argv[i];
    };
    switch (flag) {
      case '--root':
        options.root = value();
        break;
      case '--port':
        options.port = Number(value());
        if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535) throw new Error('--port must be 0–65535');
        break;
      case '--api-url':
        options.apiUrl = value();
        break;
      case '-h':
      case '--help':
        options.help = true;
        break;
      default:
        throw new Error(`unknown option ${arg}`);
    }
  }
  return options;
}

async function main() {
  let options;
  try {
    options = parseArgs(process.argv.slice(2));
  } catch (error) {
    console.error(`serve.mjs: ${error.message}`);
    process.exit(2);
  }
  if (options.help) {
    console.log('usage: node serve.mjs [--root DIR] [--port N] [--api-url URL]\n' +
      '  --root     directory to serve (default: ../dist beside this script)\n' +
      '  --port     port on 127.0.0.1 (default 4020; 0 picks a free one)\n' +
      '  --api-url  served as config.json {"apiUrl": URL}; without it config.json is 404');
    return;
  }
  const root = options.root ?? fileURLToPath(new URL('../dist/', import.meta.url));
  const config = options.apiUrl === null ? null : { apiUrl: options.apiUrl };
  let server;
  try {
    server = await startServer({ root, port: options.port, config });
  } catch (error) {
    console.error(`serve.mjs: ${error.message}`);
    process.exit(1);
  }
  console.log(`serve.mjs: serving ${resolve(root)} at ${server.url}${config ? ` (config.json apiUrl=${config.apiUrl})` : ' (no config.json)'}`);
  let stopping = false;
  const stop = async (signal) => {
    if (stopping) return;
    stopping = true;
    await server.close();
    console.log(`serve.mjs: stopped (${signal})`);
    process.exit(0);
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main();
}
