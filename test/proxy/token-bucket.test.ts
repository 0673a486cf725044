// The token bucket on an injected clock: full at start, refilled on a fixed
// grid from its creation, never above maxTokens, whatever the clock does.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { TokenBucket } from '../../proxy/src/policy/token-bucket.ts';

function clock(start = 1000) {
  const c = { now: start, read: () => c.now };
  return c;
}

const WALKTHROUGH = { maxTokens: 2, tokensPerFill: 1, fillInterval: '1s' };

test('the walkthrough bucket admits 2 at once, then 1 per second', () => {
  const c = clock();
  const bucket = new TokenBucket(WALKTHROUGH, c.read);
  assert.deepEqual([bucket.take(), bucket.take(), bucket.take()], [true, true, false]);
  c.now += 999;
  assert.equal(bucket.take(), false);
  c.now += 1;
  assert.deepEqual([bucket.take(), bucket.take()], [true, false]);
  c.now += 1000;
  assert.deepEqual([bucket.take(), bucket.take()], [true, false]);
});

test('refills fall on the grid from creation, not from the last take', () => {
  const c = clock();
  const bucket = new TokenBucket(WALKTHROUGH, c.read);
  c.now += 900;
  assert.ok(bucket.take());
  assert.ok(bucket.take());
  c.now += 100; // the tick at 1000 ms after creation
  assert.ok(bucket.take());
  assert.equal(bucket.take(), false);
});

test('an idle bucket fills up to maxTokens and no further', () => {
  const c = clock();
  const bucket = new TokenBucket({ maxTokens: 3, tokensPerFill: 2, fillInterval: '250ms' }, c.read);
  for (let i = 0; i < 3; i++) assert.ok(bucket.take());
  c.now += 3_600_000;
  for (let i = 0; i < 3; i++) assert.ok(bucket.take());
  assert.equal(bucket.take(), false);
  c.now += 250;
  assert.deepEqual([bucket.take(), bucket.take(), bucket.take()], [true, true, false]);
});

test('sameSpec compares the limits, durations by their value', () => {
  const bucket = new TokenBucket(WALKTHROUGH, clock().read);
  assert.ok(bucket.sameSpec({ maxTokens: 2, tokensPerFill: 1, fillInterval: '1000ms' }));
  assert.ok(!bucket.sameSpec({ maxTokens: 3, tokensPerFill: 1, fillInterval: '1s' }));
  assert.ok(!bucket.sameSpec({ maxTokens: 2, tokensPerFill: 2, fillInterval: '1s' }));
  assert.ok(!bucket.sameSpec({ maxTokens: 2, tokensPerFill: 1, fillInterval: '2s' }));
});

test('over any run, admissions never exceed maxTokens plus the refills in it', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 10 }),
      fc.integer({ min: 1, max: 5 }),
      fc.integer({ min: 1, max: 2000 }),
      fc.array(fc.integer({ min: 0, max: 3000 }), { maxLength: 200 }),
      (maxTokens, tokensPerFill, intervalMs, steps) => {
        const c = clock(0);
        const bucket = new TokenBucket(
          { maxTokens, tokensPerFill, fillInterval: `${intervalMs}ms` },
          c.read,
        );
        let admitted = 0;
        for (const step of steps) {
          c.now += step;
          if (bucket.take()) admitted++;
        }
        const fills = Math.floor(c.now / intervalMs);
        assert.ok(admitted <= maxTokens + fills * tokensPerFill);
      },
    ),
  );
});
