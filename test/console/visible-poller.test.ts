import { VisiblePoller, type VisibilitySource } from '../../console/web/visibility';

/**
 * The console's pages poll through one timer, VisiblePoller: it must not ask while the tab is hidden, and must ask
 * at once when the tab is shown again. A fake document (hidden flag + visibilitychange) and Jest's fake clock.
 */
class FakeDocument extends EventTarget implements VisibilitySource {
  hidden = false;
  listeners = 0;
  override addEventListener(type: 'visibilitychange', listener: () => void): void {
    this.listeners++;
    super.addEventListener(type, listener);
  }
  override removeEventListener(type: 'visibilitychange', listener: () => void): void {
    this.listeners--;
    super.removeEventListener(type, listener);
  }
  set(hidden: boolean): void {
    this.hidden = hidden;
    this.dispatchEvent(new Event('visibilitychange'));
  }
}

let doc: FakeDocument;
let ticks: number;
let poller: VisiblePoller;

beforeEach(() => {
  jest.useFakeTimers();
  doc = new FakeDocument();
  ticks = 0;
  poller = new VisiblePoller(() => ticks++, doc);
});

afterEach(() => {
  poller.dispose();
  jest.useRealTimers();
});

test('polls on its delay while the page is shown', () => {
  poller.schedule(2000);
  jest.advanceTimersByTime(1999);
  expect(ticks).toBe(0);
  jest.advanceTimersByTime(1);
  expect(ticks).toBe(1);
});

test('a page hidden before the poll falls due asks nothing until shown, then asks at once', () => {
  poller.schedule(2000);
  jest.advanceTimersByTime(500);
  doc.set(true);
  jest.advanceTimersByTime(60_000);
  expect(ticks).toBe(0);
  doc.set(false);
  expect(ticks).toBe(1);
  // Shown again without a new schedule: nothing more until the page schedules its next poll.
  jest.advanceTimersByTime(60_000);
  expect(ticks).toBe(1);
});

test('a poll scheduled while hidden (an answer that came back after the tab was hidden) waits for the page', () => {
  doc.hidden = true;
  poller.schedule(1000);
  jest.advanceTimersByTime(10_000);
  expect(ticks).toBe(0);
  doc.set(false);
  expect(ticks).toBe(1);
});

test('a timer that fires while the page is hidden without an event yet still does not ask', () => {
  poller.schedule(1000);
  doc.hidden = true;
  jest.advanceTimersByTime(1000);
  expect(ticks).toBe(0);
  doc.set(false);
  expect(ticks).toBe(1);
});

test('showing a page that has nothing scheduled asks nothing (a page that does not poll stays quiet)', () => {
  doc.set(true);
  doc.set(false);
  expect(ticks).toBe(0);
});

test('cancel and dispose leave no timer and no listener', () => {
  poller.schedule(1000);
  doc.set(true);
  poller.cancel();
  doc.set(false);
  jest.advanceTimersByTime(5000);
  expect(ticks).toBe(0);
  poller.schedule(1000);
  poller.dispose();
  jest.advanceTimersByTime(5000);
  expect(ticks).toBe(0);
  expect(doc.listeners).toBe(0);
});
