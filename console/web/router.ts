import { useEffect, useState } from 'preact/hooks';

/** A tiny router over the History API: the path is the state, `navigate` changes it. */

const listeners = new Set<() => void>();

export function navigate(path: string, options: { replace?: boolean } = {}): void {
  if (path === currentPath() && !options.replace) return;
  if (options.replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  for (const listener of listeners) listener();
}

export function currentPath(): string {
  return window.location.pathname;
}

window.addEventListener('popstate', () => {
  for (const listener of listeners) listener();
});

export function usePath(): string {
  const [path, setPath] = useState(currentPath());
  useEffect(() => {
    const listener = () => setPath(currentPath());
    listeners.add(listener);
    return () => {
      listeners.delete(listener);
    };
  }, []);
  return path;
}

export type Route =
  | { page: 'list' }
  | { page: 'new' }
  | { page: 'dataflow'; name: string }
  | { page: 'history'; name: string }
  | { page: 'edit'; name: string }
  | { page: 'schedule'; name: string }
  | { page: 'notFound' };

export function matchRoute(path: string): Route {
  const clean = path.replace(/\/+$/, '') || '/';
  if (clean === '/' || clean === '/imports') return { page: 'list' };
  if (clean === '/imports/new') return { page: 'new' };
  const m = /^\/imports\/([^/]+)(?:\/(history|edit|schedule))?$/.exec(clean);
  if (m) {
    let name: string;
    try {
      name = decodeURIComponent(m[1]);
    } catch {
      return { page: 'notFound' };
    }
    const sub = m[2] as 'history' | 'edit' | 'schedule' | undefined;
    return sub ? { page: sub, name } : { page: 'dataflow', name };
  }
  return { page: 'notFound' };
}

/** The path of a dataflow's page, or one of its sub-pages. */
export function dataflowPath(name: string, sub?: 'history' | 'edit' | 'schedule'): string {
  return `/imports/${encodeURIComponent(name)}${sub ? `/${sub}` : ''}`;
}

/** A click on an in-app link that the router should handle (not a new tab or window). */
export function isPlainClick(e: MouseEvent): boolean {
  return e.button === 0 && !e.metaKey && !e.ctrlKey && !e.shiftKey && !e.altKey && !e.defaultPrevented;
}
