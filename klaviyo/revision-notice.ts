import type { IncomingHttpHeaders } from 'node:http';

/**
 * Klaviyo retires a revision two years after its release, after a year of deprecation (developers.klaviyo.com, "API
 * versioning and deprecation policy"). An answer that marks its revision deprecated with the IETF `Deprecation`
 * header (RFC 9745), optionally with a `Sunset` date (RFC 8594), as the sandbox does, becomes a notice the run shows.
 */
export function revisionNoticeOf(revision: string, headers: IncomingHttpHeaders): string | undefined {
  const deprecation = headers.deprecation;
  if (typeof deprecation !== 'string' || deprecation.trim() === '' || deprecation.trim() === 'false') return undefined;
  const sunset = typeof headers.sunset === 'string' ? Date.parse(headers.sunset) : NaN;
  const until = Number.isNaN(sunset) ? '' : ` and retires on ${new Date(sunset).toISOString().slice(0, 10)}`;
  return (
    `Klaviyo says API revision ${revision}, which this version of klaviyo-dataflows uses, is deprecated${until}; ` +
    'upgrade klaviyo-dataflows to a release that uses a newer revision.'
  );
}
