import { useEffect, useRef, useState } from 'preact/hooks';
import type { EntityPreview, EntityView } from '../../api-types';
import { api, enc } from '../api';
import { ErrorAlert } from '../components/alert';
import { DataTable, WhenLoaded, type Column } from '../components/data-table';
import { DateTime } from '../components/time';
import { formatNumber, isIsoDateTime } from '../format';

/** A dataflow's page: its entities (the live version's tables) and a preview of the first rows of one. */

export function EntitiesSection(props: {
  name: string;
  entities: EntityView[] | undefined;
  error: Error | null;
  loading: boolean;
}) {
  const [preview, setPreview] = useState<{ table: string; data?: EntityPreview; error?: unknown } | null>(null);
  const previewHeading = useRef<HTMLHeadingElement>(null);

  const open = async (table: string) => {
    setPreview({ table });
    try {
      const data = await api.get<EntityPreview>(
        `/api/dataflows/${enc(props.name)}/entities/${encodeURIComponent(table)}/preview`,
      );
      setPreview({ table, data });
    } catch (error) {
      setPreview({ table, error });
    }
  };

  useEffect(() => {
    if (preview && !preview.data && !preview.error) previewHeading.current?.focus();
  }, [preview?.table]);

  return (
    <section class="section" aria-labelledby="entities-heading">
      <h2 id="entities-heading">Entities</h2>
      <ErrorAlert error={props.entities ? null : props.error} />
      <WhenLoaded data={props.entities} loading={props.loading}>
        {(entities) => (
          <DataTable
            columns={ENTITY_COLUMNS}
            rows={entities}
            empty={<p class="empty">No committed tables yet. Run the dataflow to import its tables.</p>}
            row={(e) => (
              <tr key={e.table} data-testid={`entity-${e.table}`}>
                <th scope="row">
                  <code>{e.view}</code>
                </th>
                <td class="num">{formatNumber(e.rows)}</td>
                <td class="num">{e.version ?? '—'}</td>
                <td>
                  <button
                    type="button"
                    class="btn btn-small"
                    aria-label={`Preview ${e.table}`}
                    onClick={() => void open(e.table)}
                  >
                    Preview
                  </button>
                </td>
              </tr>
            )}
          />
        )}
      </WhenLoaded>
      {preview && (
        <section class="section preview" aria-labelledby="preview-heading">
          <div class="section-head">
            <h3 id="preview-heading" ref={previewHeading} tabIndex={-1}>
              Preview of {preview.table}
              {preview.data?.version ? ` (version ${preview.data.version})` : ''}
            </h3>
            <button type="button" class="btn btn-small" onClick={() => setPreview(null)}>
              Close preview
            </button>
          </div>
          <ErrorAlert error={preview.error} />
          {!preview.data && !preview.error && <p class="muted">Loading…</p>}
          {preview.data && <PreviewTable preview={preview.data} />}
        </section>
      )}
    </section>
  );
}

const ENTITY_COLUMNS: Column[] = ['Table', { label: 'Rows', num: true }, { label: 'Version', num: true }, 'Preview'];

function PreviewTable({ preview }: { preview: EntityPreview }) {
  if (preview.rows.length === 0) return <p class="empty">{preview.table} has no rows.</p>;
  return (
    <>
      <p class="muted small">
        The first {preview.rows.length} rows of the live version{preview.rows.length >= 50 ? ' (at most 50)' : ''}.
      </p>
      <DataTable
        columns={preview.columns}
        rows={preview.rows}
        tableClass="compact"
        scrollClass="preview-scroll"
        region={`Rows of ${preview.table}`}
        row={(row, i) => (
          <tr key={i}>
            {preview.columns.map((c) => (
              <td key={c}>
                <Cell value={row[c]} />
              </td>
            ))}
          </tr>
        )}
      />
    </>
  );
}

function Cell({ value }: { value: unknown }) {
  if (value === null || value === undefined) return <span class="muted">null</span>;
  if (typeof value === 'string') {
    if (isIsoDateTime(value)) return <DateTime iso={value} />;
    return (
      <span class="cell-text" title={value.length > 60 ? value : undefined}>
        {value}
      </span>
    );
  }
  if (typeof value === 'number' || typeof value === 'boolean') return <>{String(value)}</>;
  const json = JSON.stringify(value);
  return (
    <code class="cell-json" title={json.length > 60 ? json : undefined}>
      {json}
    </code>
  );
}
