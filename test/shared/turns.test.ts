import { takeTurn } from '../../shared/turns';

/** Keeps the thread busy for `ms`, as a page's parse and encoding does. */
function busy(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // spin
  }
}

test('work waiting for turns runs one piece per turn of the loop, in order, with I/O and timers between', async () => {
  const order: string[] = [];
  const pieces = [1, 2, 3, 4, 5].map(async (n) => {
    await takeTurn();
    busy(5);
    order.push(`piece ${n}`);
  });
  // Both are due at once; without turns, all five pieces would run before either.
  setTimeout(() => order.push('timer'), 0);
  await Promise.all(pieces);
  const timer = order.indexOf('timer');
  expect(order.filter((o) => o.startsWith('piece'))).toEqual(['piece 1', 'piece 2', 'piece 3', 'piece 4', 'piece 5']);
  expect(timer).toBeGreaterThan(-1);
  expect(timer).toBeLessThan(order.indexOf('piece 5'));
});

test('pieces chained one after another each wait their own turn', async () => {
  let turns = 0;
  let ticks = 0;
  const ticker = setInterval(() => ticks++, 0);
  for (let i = 0; i < 5; i++) {
    await takeTurn();
    busy(3);
    turns++;
  }
  clearInterval(ticker);
  expect(turns).toBe(5);
  // A timer ran between the pieces: the loop had turns while they ran.
  expect(ticks).toBeGreaterThan(0);
});
