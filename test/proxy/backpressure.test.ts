// A client slower than its upstream: the proxy stops reading the upstream
// while a write to the client is pending (its read buffer is still referenced)
// and starts again once that write completes, whatever the read buffer size.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { RunningProxy } from '../../proxy/src/proxy.ts';
import { downloads, echoAppHandler } from './support/echo-app.ts';
import { closeServer, listenHttp, startTestProxy } from './support/harness.ts';

const MiB = 1024 * 1024;
// Far more than the kernel's socket buffers on the way can hold, so a client
// that stops reading is sure to leave the proxy with a write it cannot finish.
const BODY = 32 * MiB;

let app: Awaited<ReturnType<typeof listenHttp>>;

before(async () => {
  app = await listenHttp(echoAppHandler());
});

after(async () => {
  await closeServer(app);
});

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((r) => setTimeout(r, 10));
}

/** Reads one response with a content-length body; resolves with the body's size and hash. */
function readResponse(socket: net.Socket): Promise<{ bytes: number; sha256: string }> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    let head = Buffer.alloc(0);
    let expected = -1;
    let bytes = 0;
    const onData = (chunk: Buffer) => {
      let body = chunk;
      if (expected < 0) {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        expected = Number(/content-length: (\d+)/i.exec(head.subarray(0, end).toString())?.[1]);
        body = head.subarray(end + 4);
      }
      hash.update(body);
      bytes += body.length;
      if (bytes >= expected) {
        socket.off('data', onData);
        resolve({ bytes, sha256: hash.digest('hex') });
      }
    };
    socket.on('data', onData);
    socket.once('close', () => reject(new Error(`closed after ${bytes} of ${expected} bytes`)));
  });
}

describe('a client slower than its upstream', () => {
  for (const readBufferKiB of [16, 64]) {
    describe(`with a ${readBufferKiB} KiB read buffer`, () => {
      let proxy: RunningProxy;

      before(async () => {
        proxy = await startTestProxy({ port: app.port }, { readBufferKiB });
      });

      after(async () => {
        await proxy.close();
      });

      // Below Node's 64 KiB writable highWaterMark a pending write never
      // triggers 'drain'; reading must still resume, once per pause.
      // A stall shows as this timeout: the transfer itself takes well under a second.
      const options = { timeout: 60_000 };
      test(
        'every paused upstream read resumes and the body arrives byte for byte',
        options,
        async () => {
          const totals = proxy.stats.totals;
          const pausesBefore = totals.upstreamReadPauses;
          const client = net.connect({ port: proxy.ports.inbound, host: '127.0.0.1' });
          await once(client, 'connect');
          client.pause();
          const id = `slow-reader-${readBufferKiB}`;
          client.write(`GET /download?id=${id}&size=${BODY} HTTP/1.1\r\nHost: x\r\n\r\n`);
          // Not reading fills every buffer on the way; the proxy must then stop reading.
          await until(() => totals.upstreamReadPauses > pausesBefore);

          const response = readResponse(client);
          client.resume();
          const received = await response;
          client.end();
          await once(client, 'close');
          // Closed on both sides: every write to the client has completed.
          await until(() => totals.activeConnections === 0);

          assert.deepEqual(received, downloads.get(id));
          assert.equal(received.bytes, BODY);
          assert.equal(totals.upstreamReadResumes, totals.upstreamReadPauses);
        },
      );
    });
  }
});
