// Differential fuzz of the data path: seeded random conversations (valid
// HTTP/1.1 framings of every kind, mutations of them, pure noise), cut at
// random points, are sent through the proxy and directly, request bytes one
// way and response bytes the other. Each receiver must see exactly the bytes
// that were sent and the same close (a FIN, not a reset or nothing), within a
// deadline, through the proxy as directly. The proxy runs in-process on
// loopback with a fixed destination and no header insertion; lanes of
// connections run in parallel, each with its own server and proxy.
//
//   OUTRIGGER_FUZZ_SEED=<n>    replay one run (the seed is printed on failure)
//   OUTRIGGER_FUZZ_RUNS=<n>    sequences per run (default 10,000)
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import type { RunningProxy } from '../../proxy/src/proxy.ts';
import { closeServer, startTestProxy } from './support/harness.ts';

const RUNS = Number(process.env.OUTRIGGER_FUZZ_RUNS ?? 10_000);
const SEED = Number(process.env.OUTRIGGER_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const LANES = 16;
/** A case that has not finished by then counts as bytes delayed or lost. */
const CASE_DEADLINE_MS = 3000;

// ── generators ────────────────────────────────────────────────────────────────

const eol = fc.constantFrom('\r\n', '\r\n', '\r\n', '\n');
const token = fc.stringMatching(/^[A-Za-z0-9-]{1,12}$/);
const fieldValue = fc.stringMatching(/^[ -~]{0,30}$/);
const body = fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b).toString('latin1'));

/** A chunked body: sizes, optional extensions, optional trailers. */
const chunked = fc
  .record({
    chunks: fc.array(
      body.filter((b) => b.length > 0),
      { maxLength: 4 },
    ),
    ext: fc.boolean(),
    trailers: fc.array(fc.tuple(token, fieldValue), { maxLength: 2 }),
    nl: eol,
  })
  .map(({ chunks, ext, trailers, nl }) => {
    const parts = chunks.map((c) => `${c.length.toString(16)}${ext ? ';x=1' : ''}\r\n${c}\r\n`);
    const tail = trailers.map(([n, v]) => `${n}: ${v}${nl}`).join('');
    return `${parts.join('')}0\r\n${tail}\r\n`;
  });

type Framing = { headers: string[]; body: string };
const framing: fc.Arbitrary<Framing> = fc.oneof(
  body.map((b) => ({ headers: [`Content-Length: ${b.length}`], body: b })),
  chunked.map((b) => ({ headers: ['Transfer-Encoding: chunked'], body: b })),
  fc.constant({ headers: [] as string[], body: '' }),
);

function head(startLine: string, fields: string[], nl: string): string {
  return `${startLine}${nl}${fields.map((f) => `${f}${nl}`).join('')}${nl}`;
}

const extraFields = fc.array(
  fc.tuple(token, fieldValue).map(([n, v]) => `X-${n}: ${v}`),
  { maxLength: 3 },
);

interface Exchange {
  request: string;
  response: string;
}

const exchange: fc.Arbitrary<Exchange> = fc
  .record({
    method: fc.constantFrom('GET', 'POST', 'PUT', 'HEAD', 'DELETE', 'OPTIONS'),
    path: fc.stringMatching(/^\/[a-z0-9/?=&]{0,20}$/),
    requestFraming: framing,
    requestFields: extraFields,
    nl: eol,
    interim: fc.array(fc.constantFrom(100, 102, 103), { maxLength: 2 }),
    status: fc.constantFrom(200, 201, 204, 304, 400, 404, 500),
    responseFraming: framing,
    responseFields: extraFields,
    // Bytes a 204/304/HEAD response should not carry but a server sends anyway.
    strayBody: fc.option(body, { nil: undefined }),
  })
  .map((e) => {
    const request =
      head(
        `${e.method} ${e.path} HTTP/1.1`,
        ['Host: example.test', ...e.requestFields, ...e.requestFraming.headers],
        e.nl,
      ) + e.requestFraming.body;
    const interim = e.interim.map((code) => head(`HTTP/1.1 ${code} Interim`, [], e.nl)).join('');
    const noContent = e.method === 'HEAD' || e.status === 204 || e.status === 304;
    const response =
      interim +
      head(
        `HTTP/1.1 ${e.status} Reason`,
        [...e.responseFields, ...e.responseFraming.headers],
        e.nl,
      ) +
      (noContent ? (e.strayBody ?? '') : e.responseFraming.body);
    return { request, response };
  });

/** A whole conversation: pipelined exchanges, optionally a close-delimited last response. */
const conversation = fc
  .record({
    exchanges: fc.array(exchange, { minLength: 1, maxLength: 3 }),
    closeDelimited: fc.option(body, { nil: undefined }),
  })
  .map(({ exchanges, closeDelimited }) => ({
    request: exchanges.map((e) => e.request).join(''),
    response:
      exchanges.map((e) => e.response).join('') +
      (closeDelimited === undefined ? '' : `HTTP/1.1 200 OK\r\n\r\n${closeDelimited}`),
  }));

/** Flips, inserts, deletes or truncates a few bytes. */
function mutated(text: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc
    .tuple(
      text,
      fc.array(
        fc.record({
          at: fc.integer({ min: 0, max: 999 }).map((n) => n / 1000),
          kind: fc.constantFrom('flip', 'insert', 'delete', 'truncate'),
          byte: fc.integer({ min: 0, max: 255 }),
        }),
        { minLength: 1, maxLength: 4 },
      ),
    )
    .map(([s, edits]) => {
      let out = s;
      for (const { at, kind, byte } of edits) {
        const i = Math.floor(at * out.length);
        const c = String.fromCharCode(byte);
        if (kind === 'flip') out = out.slice(0, i) + c + out.slice(i + 1);
        else if (kind === 'insert') out = out.slice(0, i) + c + out.slice(i);
        else if (kind === 'delete') out = out.slice(0, i) + out.slice(i + 1);
        else out = out.slice(0, Math.max(1, i));
      }
      return out;
    });
}

const noise = fc
  .uint8Array({ minLength: 1, maxLength: 400 })
  .map((b) => Buffer.from(b).toString('latin1'));

const cutPoints = fc.array(
  fc.integer({ min: 0, max: 999 }).map((n) => n / 1000),
  { maxLength: 6 },
);

interface Case {
  request: Buffer;
  response: Buffer;
  requestCuts: number[];
  responseCuts: number[];
  /** Whether the client half-closes right after sending, or only once the server has closed. */
  clientEndsFirst: boolean;
  port: 'outbound' | 'inbound';
}

const caseArb: fc.Arbitrary<Case> = fc
  .record({
    talk: fc.oneof(
      { weight: 4, arbitrary: conversation },
      {
        weight: 3,
        arbitrary: fc.record({
          request: mutated(conversation.map((c) => c.request)),
          response: mutated(conversation.map((c) => c.response)),
        }),
      },
      {
        weight: 2,
        arbitrary: conversation.chain((c) =>
          fc.record({
            request: fc.constant(c.request),
            response: mutated(fc.constant(c.response)),
          }),
        ),
      },
      { weight: 1, arbitrary: fc.record({ request: noise, response: noise }) },
    ),
    requestCuts: cutPoints,
    responseCuts: cutPoints,
    clientEndsFirst: fc.boolean(),
    port: fc.constantFrom('outbound' as const, 'inbound' as const),
  })
  .map(({ talk, ...rest }) => ({
    ...rest,
    request: Buffer.from(talk.request, 'latin1'),
    // Never empty: a server that closes without a byte is answered with a 503 by design.
    response: Buffer.from(talk.response.length > 0 ? talk.response : 'x', 'latin1'),
  }));

function pieces(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => Math.floor(c * bytes.length)))]
    .filter((p) => p > 0 && p < bytes.length)
    .sort((a, b) => a - b);
  const out: Buffer[] = [];
  let last = 0;
  for (const p of points) {
    out.push(bytes.subarray(last, p));
    last = p;
  }
  out.push(bytes.subarray(last));
  return out.filter((b) => b.length > 0);
}

// ── one case over real sockets ────────────────────────────────────────────────

interface Seen {
  /** Bytes the server received, and how its read side ended. */
  atServer: Buffer;
  serverEnd: 'end' | 'error' | 'none';
  atClient: Buffer;
  clientEnd: 'end' | 'error' | 'none';
}

const tick = () => new Promise((r) => setImmediate(r));

async function writeInPieces(socket: net.Socket, parts: Buffer[]): Promise<void> {
  for (const part of parts) {
    if (socket.destroyed) return;
    socket.write(part);
    await tick();
  }
}

/** A server whose next accepted connection plays `next`'s response. */
class Lane {
  server!: net.Server & { port: number };
  proxy!: RunningProxy;
  private onAccept: ((socket: net.Socket) => void) | undefined;

  async start(): Promise<void> {
    const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
      const handler = this.onAccept;
      this.onAccept = undefined;
      if (handler) handler(socket);
      else socket.destroy();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    this.server = Object.assign(server, { port: (server.address() as net.AddressInfo).port });
    this.proxy = await startTestProxy({ port: this.server.port }, { idleTimeoutMs: 0 });
  }

  async stop(): Promise<void> {
    await this.proxy.close();
    await closeServer(this.server);
  }

  run(c: Case, through: 'proxy' | 'direct'): Promise<Seen> {
    const seen: Seen = {
      atServer: Buffer.alloc(0),
      serverEnd: 'none',
      atClient: Buffer.alloc(0),
      clientEnd: 'none',
    };
    const port = through === 'direct' ? this.server.port : this.proxy.ports[c.port];
    return new Promise((resolve) => {
      const serverChunks: Buffer[] = [];
      const clientChunks: Buffer[] = [];
      let serverSocket: net.Socket | undefined;
      let pending = 2;
      const finish = () => {
        clearTimeout(timer);
        seen.atServer = Buffer.concat(serverChunks);
        seen.atClient = Buffer.concat(clientChunks);
        client.destroy();
        serverSocket?.destroy();
        resolve(seen);
      };
      const timer = setTimeout(finish, CASE_DEADLINE_MS);
      const sideDone = () => {
        if (--pending === 0) finish();
      };
      this.onAccept = (socket) => {
        serverSocket = socket;
        socket.on('data', (d: Buffer) => serverChunks.push(d));
        socket.on('end', () => {
          seen.serverEnd = 'end';
          sideDone();
        });
        socket.on('error', () => {
          seen.serverEnd = 'error';
          sideDone();
        });
        void writeInPieces(socket, pieces(c.response, c.responseCuts)).then(() => socket.end());
      };
      const client = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true, noDelay: true });
      let sent: Promise<void> = new Promise((r) => client.once('connect', r));
      sent = sent.then(() => writeInPieces(client, pieces(c.request, c.requestCuts)));
      client.on('data', (d: Buffer) => clientChunks.push(d));
      client.on('end', () => {
        seen.clientEnd = 'end';
        // Ending only once every request byte is written, as a real client would.
        if (!c.clientEndsFirst) void sent.then(() => client.end());
        sideDone();
      });
      client.on('error', () => {
        seen.clientEnd = 'error';
        sideDone();
      });
      if (c.clientEndsFirst) void sent.then(() => client.end());
    });
  }
}

const lanes: Lane[] = [];

before(async () => {
  for (let i = 0; i < LANES; i++) {
    const lane = new Lane();
    await lane.start();
    lanes.push(lane);
  }
});

after(async () => {
  await Promise.all(lanes.map((l) => l.stop()));
});

function describeCase(c: Case): string {
  return JSON.stringify({
    request: c.request.toString('latin1'),
    response: c.response.toString('latin1'),
    requestCuts: c.requestCuts,
    responseCuts: c.responseCuts,
    clientEndsFirst: c.clientEndsFirst,
    port: c.port,
  });
}

test(`${RUNS} random byte sequences arrive through the proxy exactly as directly, both ways`, async (t) => {
  const cases = fc.sample(caseArb, { seed: SEED, numRuns: RUNS });
  t.diagnostic(`seed ${SEED} (replay: OUTRIGGER_FUZZ_SEED=${SEED}), ${cases.length} sequences`);
  const failures: string[] = [];
  let next = 0;
  await Promise.all(
    lanes.map(async (lane) => {
      while (next < cases.length && failures.length < 5) {
        const index = next++;
        const c = cases[index]!;
        // Directly for a sample (it checks the harness itself), through the proxy always.
        const direct =
          index % 20 === 0
            ? await lane.run(c, 'direct')
            : { atServer: c.request, serverEnd: 'end', atClient: c.response, clientEnd: 'end' };
        const proxied = await lane.run(c, 'proxy');
        const problems: string[] = [];
        if (!proxied.atServer.equals(direct.atServer))
          problems.push(`server got ${JSON.stringify(proxied.atServer.toString('latin1'))}`);
        if (!proxied.atClient.equals(direct.atClient))
          problems.push(`client got ${JSON.stringify(proxied.atClient.toString('latin1'))}`);
        if (proxied.serverEnd !== direct.serverEnd)
          problems.push(`server read side: ${proxied.serverEnd}, directly ${direct.serverEnd}`);
        if (proxied.clientEnd !== direct.clientEnd)
          problems.push(`client read side: ${proxied.clientEnd}, directly ${direct.clientEnd}`);
        if (problems.length > 0)
          failures.push(`sequence ${index}: ${problems.join('; ')}\n  case ${describeCase(c)}`);
      }
    }),
  );
  assert.deepEqual(
    failures,
    [],
    `seed ${SEED} (replay: OUTRIGGER_FUZZ_SEED=${SEED})\n${failures.join('\n')}`,
  );
});
