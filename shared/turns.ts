/**
 * One turn of the event loop per piece of heavy synchronous work (a page's parse and encoding): `await takeTurn()`
 * before each, and the process handles what came meanwhile (Postgres answers, Klaviyo answers, timers) between any two.
 *
 * Without it, pages already in (the read-ahead) are handled one after another in microtasks, never giving the loop a
 * turn: at 1,000 ms latency a burst of answers held the loop for up to 0.7 s, and a rate lease or a checkpoint write,
 * each several round trips to Postgres, took 1–2 s, during which requests and writes waited.
 */
const waiting: (() => void)[] = [];
let scheduled = false;

export function takeTurn(): Promise<void> {
  return new Promise((resolve) => {
    waiting.push(resolve);
    if (!scheduled) {
      scheduled = true;
      setImmediate(next);
    }
  });
}

function next(): void {
  // The one waiter's work runs in the microtasks after this callback; the next turn is in the loop's next round.
  waiting.shift()?.();
  if (waiting.length > 0) setImmediate(next);
  else scheduled = false;
}
