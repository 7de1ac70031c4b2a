import { formatDate } from '../format';

/** A date in local time, with the UTC ISO value in its title. */
export function DateTime({ iso, empty = '—' }: { iso: string | null | undefined; empty?: string }) {
  if (!iso) return <span class="muted">{empty}</span>;
  return (
    <time dateTime={iso} title={iso}>
      {formatDate(iso)}
    </time>
  );
}
