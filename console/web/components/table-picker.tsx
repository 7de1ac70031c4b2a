import { useMemo, useState } from 'preact/hooks';
import type { DiscoveredTable } from '../../api-types';
import type { Selection } from '../selection';
import { DataTable, type Column } from './data-table';
import { InlineField, SearchField } from './field';

const SLOW_TIER_HELP =
  'Selecting this field moves the table to a slower Klaviyo rate tier (fewer requests per second), so it imports more slowly. It is unticked by default.';

/**
 * Table Details, shared by New and Edit: one row per table with its checkbox, purpose, name, type and "n of m"
 * fields; the expand button opens that table's field picker. Unreadable tables are shown disabled with the scopes
 * the key lacks.
 */
export function TablePicker(props: {
  tables: DiscoveredTable[];
  selection: Selection;
  onChange: (selection: Selection) => void;
}) {
  const { tables, selection, onChange } = props;
  const [purpose, setPurpose] = useState<'all' | 'Data' | 'Metadata'>('all');
  const [search, setSearch] = useState('');
  const [expanded, setExpanded] = useState<Set<string>>(new Set());

  const visible = useMemo(() => {
    const q = search.trim().toLowerCase();
    return tables.filter(
      (t) =>
        (purpose === 'all' || t.purpose === purpose) &&
        (!q || t.name.toLowerCase().includes(q) || t.type.toLowerCase().includes(q)),
    );
  }, [tables, purpose, search]);

  const selectedCount = tables.filter((t) => t.readable && selection[t.name]?.selected).length;
  const readableCount = tables.filter((t) => t.readable).length;

  const update = (name: string, change: Partial<Selection[string]>) =>
    onChange({ ...selection, [name]: { ...selection[name], ...change } });

  const setVisible = (selected: boolean) => {
    const next = { ...selection };
    for (const t of visible) if (t.readable) next[t.name] = { ...next[t.name], selected };
    onChange(next);
  };

  const toggleExpanded = (name: string) => {
    const next = new Set(expanded);
    if (next.has(name)) next.delete(name);
    else next.add(name);
    setExpanded(next);
  };

  return (
    <div class="table-picker">
      <div class="toolbar">
        <InlineField id="table-purpose" label="Purpose">
          <select
            id="table-purpose"
            value={purpose}
            onChange={(e) => setPurpose(e.currentTarget.value as 'all' | 'Data' | 'Metadata')}
          >
            <option value="all">All</option>
            <option value="Data">Data</option>
            <option value="Metadata">Metadata</option>
          </select>
        </InlineField>
        <SearchField id="table-search" label="Search tables" value={search} onValue={setSearch} />
        <button type="button" class="btn btn-small" onClick={() => setVisible(true)}>
          Select all tables
        </button>
        <button type="button" class="btn btn-small" onClick={() => setVisible(false)}>
          Select no tables
        </button>
        <span class="spacer" />
        <span class="muted" aria-live="polite">
          {selectedCount} of {readableCount} readable tables selected
        </span>
      </div>
      <DataTable
        columns={COLUMNS}
        rows={visible}
        tableClass="picker-table"
        empty="No tables match. Clear the search or pick another purpose."
        emptyInTable
        row={(t) => {
          const choice = selection[t.name] ?? { selected: false, fields: [] };
          const open = expanded.has(t.name) && t.readable && t.fields.length > 0;
          const selectedFields = choice.fields.length;
          const noFields = choice.selected && selectedFields === 0;
          return [
            <tr
              key={t.name}
              data-testid={`table-${t.name}`}
              class={`${t.readable ? '' : 'disabled'}${choice.selected ? ' selected' : ''}`}
            >
              <td>
                <input
                  type="checkbox"
                  id={`table-check-${t.name}`}
                  checked={t.readable && choice.selected}
                  disabled={!t.readable}
                  aria-label={`Select ${t.name}`}
                  onChange={(e) => update(t.name, { selected: e.currentTarget.checked })}
                />
              </td>
              <td>{t.purpose}</td>
              <th scope="row" class="name-cell">
                <label for={`table-check-${t.name}`}>{t.name}</label>
                {!t.readable && (
                  <div class="scope-note small">
                    Needs scope: {t.missingScopes.length > 0 ? t.missingScopes.join(', ') : 'read access'}
                  </div>
                )}
              </th>
              <td>{t.type}</td>
              <td class="fields-cell">
                {t.fields.length === 0 ? (
                  <span class="muted" title="A link table: only the keys it links, no fields to pick.">
                    keys only
                  </span>
                ) : t.readable ? (
                  <>
                    <span class={noFields ? 'error-text' : ''}>
                      {selectedFields} of {t.fields.length}
                    </span>
                    <button
                      type="button"
                      class="btn btn-small btn-link"
                      aria-expanded={open}
                      aria-controls={`fields-${t.name}`}
                      aria-label={`Fields of ${t.name}`}
                      onClick={() => toggleExpanded(t.name)}
                    >
                      <span aria-hidden="true">{open ? '▾' : '▸'}</span> Fields
                    </button>
                  </>
                ) : (
                  <span class="muted">— of {t.fields.length}</span>
                )}
              </td>
            </tr>,
            open && (
              <tr key={`${t.name}-fields`} class="fields-row">
                <td colSpan={5} id={`fields-${t.name}`}>
                  <FieldPicker
                    table={t}
                    fields={choice.fields}
                    onChange={(fields) =>
                      update(t.name, { fields, selected: fields.length > 0 ? true : choice.selected })
                    }
                  />
                </td>
              </tr>
            ),
          ];
        }}
      />
    </div>
  );
}

const COLUMNS: Column[] = [
  { label: <span class="visually-hidden">Selected</span> },
  'Purpose',
  'Name',
  'Type',
  'Fields',
];

function FieldPicker({
  table,
  fields,
  onChange,
}: {
  table: DiscoveredTable;
  fields: string[];
  onChange: (fields: string[]) => void;
}) {
  const [search, setSearch] = useState('');
  const chosen = new Set(fields);
  const q = search.trim().toLowerCase();
  const visible = table.fields.filter((f) => !q || f.name.toLowerCase().includes(q));
  const inOrder = (set: Set<string>) => table.fields.filter((f) => set.has(f.name)).map((f) => f.name);
  const setVisible = (on: boolean) => {
    const next = new Set(chosen);
    for (const f of visible) {
      if (on) next.add(f.name);
      else next.delete(f.name);
    }
    onChange(inOrder(next));
  };
  const searchId = `field-search-${table.name}`;
  return (
    <fieldset class="field-picker">
      <legend>Fields of {table.name}</legend>
      <div class="toolbar">
        <SearchField id={searchId} label="Search fields" value={search} onValue={setSearch} />
        <button type="button" class="btn btn-small" onClick={() => setVisible(true)}>
          Select all
        </button>
        <button type="button" class="btn btn-small" onClick={() => setVisible(false)}>
          Select none
        </button>
        <span class="muted">
          {fields.length} of {table.fields.length} selected
        </span>
      </div>
      {visible.length === 0 ? (
        <p class="muted">No fields match “{search}”.</p>
      ) : (
        <ul class="field-list">
          {visible.map((f) => {
            const id = `field-${table.name}-${f.name}`;
            return (
              <li key={f.name}>
                <input
                  type="checkbox"
                  id={id}
                  checked={chosen.has(f.name)}
                  aria-describedby={f.slowTier ? `${id}-slow` : undefined}
                  onChange={(e) => {
                    const next = new Set(chosen);
                    if (e.currentTarget.checked) next.add(f.name);
                    else next.delete(f.name);
                    onChange(inOrder(next));
                  }}
                />
                <label for={id}>
                  <span class="field-name">{f.name}</span> <span class="field-type">{f.type}</span>
                </label>
                {f.slowTier && (
                  <span class="badge badge-warn" id={`${id}-slow`} title={SLOW_TIER_HELP}>
                    slower rate tier
                    <span class="visually-hidden">: {SLOW_TIER_HELP}</span>
                  </span>
                )}
              </li>
            );
          })}
        </ul>
      )}
      {table.fields.some((f) => f.slowTier) && (
        <p class="help">{SLOW_TIER_HELP.replace(' this field', ' a field marked “slower rate tier”')}</p>
      )}
    </fieldset>
  );
}
