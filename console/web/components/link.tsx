import type { ComponentChildren, JSX } from 'preact';
import { isPlainClick, navigate } from '../router';

type Props = Omit<JSX.HTMLAttributes<HTMLAnchorElement>, 'href'> & { href: string; children: ComponentChildren };

/** An in-app link: a real `<a href>` (open in a new tab works) that the router follows without a reload. */
export function Link({ href, children, onClick, ...rest }: Props) {
  return (
    <a
      {...rest}
      href={href}
      onClick={(e) => {
        if (typeof onClick === 'function') onClick(e);
        if (!isPlainClick(e)) return;
        e.preventDefault();
        navigate(href);
      }}
    >
      {children}
    </a>
  );
}

/** A link to a page of the Temporal Web UI, in a new tab. */
export function ExternalLink({ href, children, label }: { href: string; children: ComponentChildren; label?: string }) {
  return (
    <a href={href} target="_blank" rel="noopener noreferrer" aria-label={label} class="external">
      {children}
    </a>
  );
}

/** A button that opens another page of the console: a toolbar's Back, Edit, Run History, New Dataflow. */
export function NavButton({ to, primary, children }: { to: string; primary?: boolean; children: ComponentChildren }) {
  return (
    <button type="button" class={primary ? 'btn btn-primary' : 'btn'} onClick={() => navigate(to)}>
      {children}
    </button>
  );
}
