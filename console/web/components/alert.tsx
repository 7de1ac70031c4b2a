import type { ComponentChildren } from 'preact';
import { ApiError } from '../api';
import { ExternalLink } from './link';

/**
 * A live region for errors: always in the page (so screen readers announce what appears in it), empty when there is
 * nothing to say. The message is the server's, verbatim.
 */
export function ErrorAlert({ error, children }: { error: unknown; children?: ComponentChildren }) {
  const message = error ? (error instanceof Error ? error.message : String(error)) : null;
  const url = error instanceof ApiError ? error.url : undefined;
  return (
    <div role="alert" class={message ? 'alert alert-error' : 'alert-empty'}>
      {message && (
        <>
          <p>{message}</p>
          {url && (
            <p>
              <ExternalLink href={url}>Open in Temporal Web UI</ExternalLink>
            </p>
          )}
          {children}
        </>
      )}
    </div>
  );
}

/** A polite status message, e.g. "Run started". */
export function Notice({ text }: { text: string | null }) {
  return (
    <div role="status" class={text ? 'notice' : 'alert-empty'}>
      {text}
    </div>
  );
}
