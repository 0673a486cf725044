// Both programs write the same log line shape: ISO time, level as a word, msg,
// then the fields (docs/metrics.md, "Logs").
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import pino from 'pino';
import { createLogger } from '../../proxy/src/log.ts';
import { LOG_SHAPE } from '../../src/webhook/logger.ts';

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

test("the injector's and the proxy's log lines have one shape", () => {
  const injectorLines: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      injectorLines.push(String(chunk).trim());
      done();
    },
  });
  pino({ ...LOG_SHAPE, level: 'info' }, sink).warn({ pod: 'web-1' }, 'admission');
  const proxyLines: string[] = [];
  createLogger('info', (line) => proxyLines.push(line)).warn('admission', { pod: 'web-1' });

  for (const [program, line] of [
    ['injector', injectorLines[0]],
    ['proxy', proxyLines[0]],
  ] as const) {
    const entry = JSON.parse(line!) as Record<string, unknown>;
    assert.match(String(entry.time), ISO, `${program}: time`);
    assert.deepEqual(
      { ...entry, time: undefined },
      { time: undefined, level: 'warn', msg: 'admission', pod: 'web-1' },
      program,
    );
  }
});
