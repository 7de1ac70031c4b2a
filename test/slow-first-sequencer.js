// @ts-check
/* eslint-disable @typescript-eslint/no-require-imports -- jest loads sequencers as plain CommonJS, untransformed */
'use strict';
const Sequencer = require('@jest/test-sequencer').default;

/**
 * With two jest workers the run ends when the later of the two does: a file of several minutes started last leaves
 * the other worker idle for its whole length. Jest orders files by how long they took last time, when it remembers
 * (its cache); a fresh machine has no such memory, so these files, the longest measured (minutes each on a loaded
 * 2-core machine), start first. Every other file keeps jest's own order.
 */
// Measured one at a time on the 2-core machine, under other load: 240, 167, 160, 122, 121, 86, 56–74 s, …
const SLOW_FIRST = [
  'resilience/worker-crashes',
  'engine/history-size',
  'engine/worker-crash.',
  'engine/scale-out.',
  'klaviyo/client-volume',
  'stack/demo.',
  'resilience/postgres-faults',
  'worker/secured-temporal',
  'klaviyo/client-rate-limits',
  'console/api.',
  'resilience/contention',
  'resilience/klaviyo-faults',
];

class SlowFirstSequencer extends Sequencer {
  /** @param {import('@jest/test-result').Test[]} tests */
  sort(tests) {
    const sorted = /** @type {import('@jest/test-result').Test[]} */ (super.sort(tests));
    /** @param {import('@jest/test-result').Test} test */
    const rank = (test) => {
      const at = SLOW_FIRST.findIndex((part) => test.path.split('\\').join('/').includes(`/test/${part}`));
      return at < 0 ? SLOW_FIRST.length : at;
    };
    // super.sort() set each file's duration from jest's cache, where it had one.
    const hasTimings = sorted.some((test) => test.duration != null);
    // Jest's memory of last time, where it has one, knows better than this list.
    return hasTimings ? sorted : [...sorted].sort((a, b) => rank(a) - rank(b));
  }
}

module.exports = SlowFirstSequencer;
