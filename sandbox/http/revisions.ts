import { KLAVIYO_REVISION } from '../../klaviyo/catalog';
import { ApiError, invalid } from './api-error';

/**
 * Klaviyo's `revision` header rules (developers.klaviyo.com, "API versioning and deprecation policy"): a revision must
 * be one Klaviyo released; each is stable for a year, deprecated (still served) the next, and retired after two,
 * when it answers 410 Gone. The sandbox serves the shapes of one revision, KLAVIYO_REVISION (its catalog's), so it
 * refuses newer revisions instead of answering them in shapes they do not have. Older valid revisions get the same
 * shapes: the sandbox has no other revision's schemas.
 */

/** Klaviyo's GA revisions up to the one the sandbox serves, from Klaviyo's public changelog. */
export const KNOWN_REVISIONS: readonly string[] = Object.freeze([
  '2022-10-17',
  '2023-01-24',
  '2023-02-22',
  '2023-06-15',
  '2023-07-15',
  '2023-08-15',
  '2023-09-15',
  '2023-10-15',
  '2023-12-15',
  '2024-02-15',
  '2024-05-15',
  '2024-06-15',
  '2024-07-15',
  '2024-10-15',
  '2025-01-15',
  '2025-04-15',
  '2025-07-15',
  '2025-10-15',
  '2026-01-15',
  '2026-04-15',
  KLAVIYO_REVISION,
]);

/**
 * The day revisions are judged on by default: fixed, so an answer does not change with the calendar. On it, 2024
 * revisions and older are retired, 2025 ones deprecated and 2026 ones stable, as Klaviyo's docs state for October
 * 2026.
 */
export const DEFAULT_REVISIONS_AS_OF = '2026-10-15';

export type RevisionPhase = 'stable' | 'deprecated';

export interface RevisionStatus {
  revision: string;
  phase: RevisionPhase;
  /** Headers a deprecated revision's answers carry (IETF Deprecation and Sunset, RFC 9745 and RFC 8594). */
  headers: Record<string, string>;
}

/** `YYYY-MM-DD` plus `years`, as a day. */
function addYears(day: string, years: number): string {
  return `${Number(day.slice(0, 4)) + years}${day.slice(4)}`;
}

function epochSeconds(day: string): number {
  return Date.parse(`${day}T00:00:00Z`) / 1000;
}

/**
 * The status of a request's revision on `asOf` (YYYY-MM-DD), or the error Klaviyo answers: 400 for a missing,
 * malformed, unknown or future revision, 410 for a retired one.
 */
export function checkRevision(header: string | string[] | undefined, asOf: string): RevisionStatus {
  if (typeof header !== 'string' || header.length === 0) {
    throw invalid(`The 'revision' header is required (e.g. revision: ${KLAVIYO_REVISION}).`, 'revision');
  }
  const match = /^(\d{4}-\d{2}-\d{2})(\.[a-z]+)?$/.exec(header);
  if (!match) throw invalid(`'${header}' is not a valid revision (format YYYY-MM-DD[.suffix]).`, 'revision');
  const [, day, suffix] = match;
  if (day > asOf) throw invalid(`Unable to specify a future revision date: '${header}'.`, 'revision');
  // A beta (`.pre`) revision adds beta endpoints to its GA twin; the GA endpoints the sandbox serves are the same.
  if (suffix !== undefined && suffix !== '.pre') {
    throw invalid(`'${header}' is not a valid revision: the only suffix is '.pre' (beta).`, 'revision');
  }
  if (day > KLAVIYO_REVISION) {
    throw invalid(
      `'${header}' is newer than the revisions this sandbox serves (up to ${KLAVIYO_REVISION}).`,
      'revision',
    );
  }
  if (!KNOWN_REVISIONS.includes(day)) {
    throw invalid(
      `'${header}' is not a valid revision. Valid revisions include ${KNOWN_REVISIONS.slice(-4).join(', ')}.`,
      'revision',
    );
  }
  const retires = addYears(day, 2);
  if (retires <= asOf) {
    throw new ApiError(
      410,
      'gone',
      'This revision has been retired.',
      `Revision ${day} was retired on ${retires}. Send a supported revision, e.g. revision: ${KLAVIYO_REVISION}.`,
      { parameter: 'revision' },
    );
  }
  const deprecated = addYears(day, 1);
  if (deprecated > asOf) return { revision: day, phase: 'stable', headers: {} };
  return {
    revision: day,
    phase: 'deprecated',
    headers: {
      Deprecation: `@${epochSeconds(deprecated)}`,
      Sunset: new Date(epochSeconds(retires) * 1000).toUTCString(),
    },
  };
}

/** A valid `revisionsAsOf` option (YYYY-MM-DD), or a RangeError naming it. */
export function parseRevisionsAsOf(value: string | undefined): string {
  if (value === undefined) return DEFAULT_REVISIONS_AS_OF;
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value) || Number.isNaN(Date.parse(`${value}T00:00:00Z`))) {
    throw new RangeError(`Invalid revisionsAsOf "${value}": expected a day like ${DEFAULT_REVISIONS_AS_OF}`);
  }
  return value;
}
