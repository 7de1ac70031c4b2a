import type { ComponentChildren } from 'preact';
import type { SessionInfo } from '../../api-types';
import { Link } from './link';

/** The page's frame: a banner, the left pane ("Dataflow" › "Imports", a top bar on phones) and the main region. */
export function Shell({ session, children }: { session: SessionInfo | null; children: ComponentChildren }) {
  return (
    <div class="shell">
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <header class="topbar">
        <Link href="/imports" class="brand">
          Imports console
        </Link>
        {session && (
          <span class="topbar-meta">
            <span class="muted">Namespace</span> {session.namespace}
            <a href={session.temporalUiUrl} target="_blank" rel="noopener noreferrer" class="external">
              Temporal Web UI
            </a>
          </span>
        )}
      </header>
      <nav class="sidenav" aria-label="Main">
        <p class="nav-group">Dataflow</p>
        <ul>
          <li>
            <Link href="/imports" aria-current="page" class="nav-link active">
              Imports
            </Link>
          </li>
        </ul>
      </nav>
      <main id="main" class="content" tabIndex={-1}>
        {children}
      </main>
    </div>
  );
}

export interface Crumb {
  label: string;
  href?: string;
}

/** "Dataflow › Imports › …": where the page is. */
export function Breadcrumbs({ items }: { items: Crumb[] }) {
  const all: Crumb[] = [{ label: 'Dataflow' }, { label: 'Imports', href: '/imports' }, ...items];
  return (
    <nav aria-label="Breadcrumb" class="breadcrumbs">
      <ol>
        {all.map((c, i) => (
          <li key={`${c.label}-${i}`}>
            {c.href && i < all.length - 1 ? (
              <Link href={c.href}>{c.label}</Link>
            ) : (
              <span aria-current={i === all.length - 1 ? 'page' : undefined}>{c.label}</span>
            )}
          </li>
        ))}
      </ol>
    </nav>
  );
}

/** The page's one h1, focusable so a route change can move the focus to it. */
export function PageHeading({ children, sub }: { children: ComponentChildren; sub?: ComponentChildren }) {
  return (
    <div class="page-heading">
      <h1 tabIndex={-1}>{children}</h1>
      {sub && <div class="page-sub">{sub}</div>}
    </div>
  );
}
