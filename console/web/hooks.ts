import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError } from './api';
import { VisiblePoller } from './visibility';

export interface Loaded<T> {
  data: T | undefined;
  error: ApiError | Error | null;
  loading: boolean;
  /** Fetch again now (and restart the polling timer). */
  reload: () => Promise<void>;
}

/**
 * GETs `path` and keeps it fresh: after each answer, `interval(data)` says in how many milliseconds to ask again
 * (null: not until `reload`). A null path fetches nothing. Answers to an older path are dropped. Every poller of
 * the console is this hook: it does not ask while the tab is hidden, and asks at once when the tab is shown again.
 */
export function usePolled<T>(path: string | null, interval?: (data: T | undefined) => number | null): Loaded<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<ApiError | Error | null>(null);
  const [loading, setLoading] = useState(path !== null);
  const intervalRef = useRef(interval);
  intervalRef.current = interval;
  const poller = useRef<VisiblePoller | null>(null);
  const generation = useRef(0);

  const load = useCallback(async () => {
    poller.current?.cancel();
    if (path === null) return;
    const mine = ++generation.current;
    let next: T | undefined;
    let ok = false;
    try {
      next = await api.get<T>(path);
      ok = true;
    } catch (err) {
      if (mine !== generation.current) return;
      setError(err instanceof Error ? err : new Error(String(err)));
    }
    if (mine !== generation.current) return;
    if (ok) {
      setData(next);
      setError(null);
    }
    setLoading(false);
    const delay = intervalRef.current?.(ok ? next : undefined);
    if (delay !== null && delay !== undefined) poller.current?.schedule(delay);
  }, [path]);

  useEffect(() => {
    const mine = new VisiblePoller(() => void load(), document);
    poller.current = mine;
    setData(undefined);
    setError(null);
    setLoading(path !== null);
    void load();
    return () => {
      generation.current++;
      mine.dispose();
    };
  }, [load]);

  return { data, error, loading, reload: load };
}

/** A value that follows `value` after it has stayed unchanged for `ms`. */
export function useDebounced<T>(value: T, ms: number): T {
  const [debounced, setDebounced] = useState(value);
  useEffect(() => {
    const t = window.setTimeout(() => setDebounced(value), ms);
    return () => window.clearTimeout(t);
  }, [value, ms]);
  return debounced;
}

/** Sets the document's title while the page is shown. */
export function useTitle(title: string): void {
  useEffect(() => {
    document.title = `${title} · Imports console`;
  }, [title]);
}
