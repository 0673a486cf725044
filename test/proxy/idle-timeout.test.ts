// The shared idle timer: a connection is cut once it has gone a whole timeout
// without activity, never before, and activity at any point restarts its count.
// Mocked timers make the ticks deterministic.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, mock, test } from 'node:test';
import { IdleTimeout, type IdleWatched } from '../../proxy/src/idle-timeout.ts';

beforeEach(() => mock.timers.enable({ apis: ['setInterval'] }));
afterEach(() => mock.timers.reset());

function connection(): IdleWatched & { cut: number } {
  return {
    active: false,
    idleTicks: 0,
    cut: 0,
    idleTimedOut() {
      this.cut++;
    },
  };
}

test('an idle connection is cut after the timeout, and not before', () => {
  const idle = new IdleTimeout(800);
  const c = connection();
  idle.watch(c);
  mock.timers.tick(799);
  assert.equal(c.cut, 0);
  mock.timers.tick(1);
  assert.equal(c.cut, 1);
  mock.timers.tick(10_000);
  assert.equal(c.cut, 1, 'cut once, then no longer watched');
});

test('activity restarts the count: a connection busy within every timeout is never cut', () => {
  const idle = new IdleTimeout(800);
  const busy = connection();
  const quiet = connection();
  idle.watch(busy);
  idle.watch(quiet);
  for (let ms = 0; ms < 5_000; ms += 700) {
    busy.active = true;
    mock.timers.tick(700);
  }
  assert.equal(busy.cut, 0);
  assert.equal(quiet.cut, 1);
  idle.unwatch(busy);
  mock.timers.tick(10_000);
  assert.equal(busy.cut, 0, 'an unwatched connection is left alone');
});

test('a timeout of 0 watches nothing', () => {
  const idle = new IdleTimeout(0);
  const c = connection();
  idle.watch(c);
  mock.timers.tick(3_600_000);
  assert.equal(c.cut, 0);
});
