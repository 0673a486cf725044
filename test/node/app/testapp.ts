#!/usr/bin/env node
// testapp: the application the node suite runs behind the sidecar, shaped like
// the httpbin of Envoy's sidecar walkthrough, and the client its client pods
// run, so no pod needs curl. Three commands:
//
//   testapp serve [--host H] [--port P]     GET /get, POST /post, /status/N, /delay/N, /headers, /healthz, /metrics
//   testapp fetch URL [--method M] [--data D] [--header 'name: value']...
//   testapp tcp-check HOST PORT
//
// The server answers with the request's headers exactly as they arrived
// (names lowercased, as Node reports them), so a test sees what a proxy added,
// and logs one JSON line per request. Plain Node built-ins and commander only:
// the image runs this file as it is, on Node's type stripping.
import { createServer, type IncomingMessage, request, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import { Command, InvalidArgumentError, Option } from 'commander';

const DEFAULT_PORT = 8080;

function port(value: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 0 || number > 65535) {
    throw new InvalidArgumentError('expected a port number, 0 to 65535');
  }
  return number;
}

// ── serve ────────────────────────────────────────────────────────────────────

type Args = Record<string, string | string[]>;

/** Query parameters as httpbin shows them: a repeated key becomes a list. */
function queryArgs(url: URL): Args {
  const args: Args = {};
  for (const [key, value] of url.searchParams) {
    const seen = args[key];
    args[key] = seen === undefined ? value : [...(Array.isArray(seen) ? seen : [seen]), value];
  }
  return args;
}

function headersOf(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}

const origin = (req: IncomingMessage) => (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');

function describe(req: IncomingMessage, url: URL) {
  return { args: queryArgs(url), headers: headersOf(req), origin: origin(req), url: url.href };
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = `${JSON.stringify(body, null, 2)}\n`;
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function answer(req: IncomingMessage, res: ServerResponse): Promise<number> {
  const url = new URL(req.url ?? '/', `http://${req.headers.host ?? 'testapp'}`);
  const body = await readBody(req);
  const status = url.pathname.match(/^\/status\/(\d{3})$/);
  if (status) {
    const code = Number(status[1]);
    if (code < 200 || code > 599) {
      sendJson(res, 400, { error: 'status must be 200 to 599' });
      return 400;
    }
    res.writeHead(code, { 'content-length': 0 });
    res.end();
    return code;
  }
  // httpbin's /delay/N: answers like /get after N seconds (at most 10), so a
  // test can hold a request in flight across a pod's shutdown.
  const delay = url.pathname.match(/^\/delay\/(\d{1,2})$/);
  if (delay && req.method === 'GET') {
    await new Promise((resolve) => setTimeout(resolve, Math.min(Number(delay[1]), 10) * 1000));
    sendJson(res, 200, describe(req, url));
    return 200;
  }
  switch (`${req.method} ${url.pathname}`) {
    case 'GET /get':
      sendJson(res, 200, describe(req, url));
      return 200;
    case 'POST /post': {
      const data = body.toString('utf8');
      let json: unknown = null;
      try {
        json = JSON.parse(data);
      } catch {}
      sendJson(res, 200, { ...describe(req, url), data, json });
      return 200;
    }
    case 'GET /headers':
      sendJson(res, 200, { headers: headersOf(req) });
      return 200;
    case 'GET /healthz':
      sendJson(res, 200, { status: 'ok' });
      return 200;
    case 'GET /metrics': {
      // An app's own Prometheus metrics, for the metrics merge.
      const text =
        '# HELP testapp_requests_total Requests the test app answered before this one.\n' +
        `# TYPE testapp_requests_total counter\ntestapp_requests_total ${answered}\n`;
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(text);
      return 200;
    }
    default:
      sendJson(res, 404, { error: `no route for ${req.method} ${url.pathname}` });
      return 404;
  }
}

let answered = 0;

function serve(options: { host: string; port: number }): void {
  const server = createServer((req, res) => {
    const started = process.hrtime.bigint();
    res.once('finish', () => answered++);
    answer(req, res).then(
      (status) => {
        const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
        const line = { time: new Date().toISOString(), method: req.method, url: req.url, status };
        process.stdout.write(
          `${JSON.stringify({ ...line, origin: origin(req), durationMs: Math.round(durationMs * 1000) / 1000 })}\n`,
        );
      },
      (err: Error) => {
        process.stderr.write(`testapp: ${req.method} ${req.url}: ${err.message}\n`);
        res.destroy();
      },
    );
  });
  server.listen(options.port, options.host, () => {
    const address = server.address();
    const where =
      typeof address === 'object' && address ? `${address.address}:${address.port}` : '';
    process.stdout.write(`${JSON.stringify({ listening: where })}\n`);
  });
  // As PID 1 Node gets no default SIGTERM action: finish what is in flight, then exit.
  const stop = () => {
    server.close(() => process.exit(0));
    server.closeIdleConnections();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

// ── fetch ────────────────────────────────────────────────────────────────────

function collectHeader(value: string, previous: string[]): string[] {
  if (!value.includes(':')) throw new InvalidArgumentError("expected 'name: value'");
  return [...previous, value];
}

function fetchOnce(
  target: string,
  options: { method: string; data?: string; header: string[]; timeout: number },
): void {
  const headers: Record<string, string> = {};
  for (const line of options.header) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
  }
  const req = request(target, { method: options.method, headers, timeout: options.timeout });
  req.on('response', async (res) => {
    const body = (await readBody(res)).toString('utf8');
    process.stdout.write(
      `${JSON.stringify({ status: res.statusCode, headers: res.headers, body }, null, 2)}\n`,
    );
  });
  req.on('timeout', () => req.destroy(new Error(`no answer within ${options.timeout} ms`)));
  req.on('error', (err) => {
    process.stdout.write(`${JSON.stringify({ error: err.message })}\n`);
    process.exitCode = 1;
  });
  req.end(options.data);
}

// ── tcp-check ────────────────────────────────────────────────────────────────

function tcpCheck(host: string, portNumber: number, timeout: number): void {
  const socket = connect({ host, port: portNumber, timeout });
  const report = (result: { connected: boolean; error?: string }) => {
    process.stdout.write(`${JSON.stringify({ host, port: portNumber, ...result })}\n`);
    process.exitCode = result.connected ? 0 : 1;
    socket.destroy();
  };
  socket.on('connect', () => report({ connected: true }));
  socket.on('timeout', () => report({ connected: false, error: `timed out after ${timeout} ms` }));
  socket.on('error', (err) => report({ connected: false, error: err.message }));
}

// ── command line ─────────────────────────────────────────────────────────────

const program = new Command('testapp').description('httpbin-like test server and its client');
program
  .command('serve')
  .description('answer /get, /post, /status/N, /headers and /healthz')
  .addOption(new Option('--host <host>', 'address to bind').env('TESTAPP_HOST').default('0.0.0.0'))
  .addOption(
    new Option('--port <port>', 'port to listen on')
      .env('TESTAPP_PORT')
      .argParser(port)
      .default(DEFAULT_PORT),
  )
  .action(serve);
program
  .command('fetch')
  .description('one HTTP request; prints {status, headers, body} as JSON')
  .argument('<url>')
  .option('-X, --method <method>', 'request method', 'GET')
  .option('-d, --data <body>', 'request body')
  .option('-H, --header <line>', "extra header 'name: value' (repeatable)", collectHeader, [])
  .option('--timeout <ms>', 'give up after this long', Number, 10_000)
  .action(fetchOnce);
program
  .command('tcp-check')
  .description('connect and close; exit 0 when the connection opened')
  .argument('<host>')
  .argument('<port>', 'port', port)
  .option('--timeout <ms>', 'give up after this long', Number, 5_000)
  .action((host: string, portNumber: number, options: { timeout: number }) =>
    tcpCheck(host, portNumber, options.timeout),
  );
program.parse();
