import { useEffect, useRef, useState } from 'preact/hooks';
import type { ConnectorInfo, ConnectResult, CreateDataflowRequest, DataflowView, NameCheck } from '../../api-types';
import { api, ApiError } from '../api';
import { ErrorAlert } from '../components/alert';
import { DetailsFields } from '../components/details-fields';
import { Field, SearchField } from '../components/field';
import { Connected, KeyForm } from '../components/key-form';
import { Breadcrumbs, PageHeading } from '../components/layout';
import { Step, Stepper, TablesStep, useSave, useWizard, type StepNav } from '../components/wizard';
import { useDebounced, usePolled, useTitle } from '../hooks';
import { navigate } from '../router';
import { defaultSelection, tableChoices, type Selection } from '../selection';

const STEPS = ['Name', 'Connector', 'Details', 'Connect', 'Table Details'];
const NAME_RULE = 'Starts with a letter. Letters and numbers only. No spaces.';

/** The New Dataflow wizard: Name → Connector → Details → Connect → Table Details, then Save. */
export function NewDataflow() {
  useTitle('New Dataflow');
  const { step, go, nav } = useWizard();
  const [name, setName] = useState('');
  const [connector, setConnector] = useState<string | null>(null);
  const [displayName, setDisplayName] = useState<string | null>(null);
  const [description, setDescription] = useState('');
  const [connected, setConnected] = useState<{ result: ConnectResult; baseUrl: string } | null>(null);
  /** The key that Connect proved, kept only here until Save. */
  const apiKey = useRef<string | null>(null);
  const [selection, setSelection] = useState<Selection>({});

  useEffect(
    () => () => {
      apiKey.current = null;
    },
    [],
  );

  const save = useSave(
    async () => {
      if (!connected || !apiKey.current) return;
      const body: CreateDataflowRequest = {
        name,
        displayName: (displayName ?? name).trim() || name,
        description: description.trim(),
        apiKey: apiKey.current,
        tables: tableChoices(connected.result.tables, selection),
      };
      if (connected.baseUrl) body.baseUrl = connected.baseUrl;
      await api.post<DataflowView>('/api/dataflows', body);
      apiKey.current = null;
      navigate('/imports');
    },
    // A name taken meanwhile is fixed on the first step.
    (err) => {
      if (err instanceof ApiError && err.field === 'name') go(0);
    },
  );

  return (
    <>
      <Breadcrumbs items={[{ label: 'New Dataflow' }]} />
      <PageHeading>New Dataflow</PageHeading>
      <Stepper steps={STEPS} current={step} />
      {step === 0 && (
        <NameStep
          key="name"
          {...nav(0)}
          name={name}
          onName={setName}
          error={save.saveError instanceof ApiError && save.saveError.field === 'name' ? save.saveError : null}
        />
      )}
      {step === 1 && <ConnectorStep key="connector" {...nav(1)} selected={connector} onSelect={setConnector} />}
      {step === 2 && (
        <Step key="details" title="Details" {...nav(2)}>
          <DetailsFields
            displayName={displayName ?? name}
            description={description}
            onDisplayName={setDisplayName}
            onDescription={setDescription}
          />
        </Step>
      )}
      {step === 3 && (
        <Step key="connect" title="Connect" {...nav(3)} nextDisabled={!connected}>
          <p>Connect {displayName || name} to a Klaviyo account with its private API key.</p>
          {connected && <Connected result={connected.result} />}
          <KeyForm
            label={connected ? 'Use another API Key' : 'API Key'}
            initialBaseUrl={connected?.baseUrl}
            connect={async (key, baseUrl) => {
              const result = await api.post<ConnectResult>(
                '/api/connect',
                baseUrl ? { apiKey: key, baseUrl } : { apiKey: key },
              );
              apiKey.current = key;
              setConnected({ result, baseUrl });
              setSelection(defaultSelection(result.tables));
              return result;
            }}
          />
        </Step>
      )}
      {step === 4 && connected && (
        <TablesStep
          key="tables"
          {...nav(4)}
          tables={connected.result.tables}
          selection={selection}
          onChange={setSelection}
          {...save}
        >
          <p>
            Pick the tables to import and, per table, the fields. Account <strong>{connected.result.accountId}</strong>,
            key <code>{connected.result.apiKeyMask}</code>.
          </p>
        </TablesStep>
      )}
    </>
  );
}

function NameStep(
  props: StepNav & {
    name: string;
    onName: (name: string) => void;
    error: ApiError | null;
  },
) {
  const { name } = props;
  const debounced = useDebounced(name.trim(), 250);
  const [check, setCheck] = useState<{ name: string; result: NameCheck | null; error: unknown }>({
    name: '',
    result: null,
    error: null,
  });

  useEffect(() => {
    if (!debounced) return;
    let live = true;
    api.get<NameCheck>(`/api/name-check?name=${encodeURIComponent(debounced)}`).then(
      (result) => live && setCheck({ name: debounced, result, error: null }),
      (error: unknown) => live && setCheck({ name: debounced, result: null, error }),
    );
    return () => {
      live = false;
    };
  }, [debounced]);

  const current = check.name === name.trim() && name.trim() !== '';
  const ok = current && check.result?.ok === true && !props.error;
  const message =
    props.error?.message ?? (current ? (check.result?.ok ? null : (check.result?.message ?? null)) : null);
  const checking = name.trim() !== '' && !current;

  return (
    <Step title="Name" focusHeading={props.focusHeading} onNext={props.onNext} nextDisabled={!ok}>
      <Field
        id="dataflow-name"
        label="Name"
        help={NAME_RULE}
        helpId="dataflow-name-rule"
        status={
          <div id="dataflow-name-check" class="inline-check" aria-live="polite">
            {checking && <span class="muted">Checking…</span>}
            {ok && <span class="ok-text">✓ {name.trim()} is available.</span>}
          </div>
        }
        error={message ?? (current ? check.error : null)}
      >
        <input
          id="dataflow-name"
          type="text"
          value={name}
          autocomplete="off"
          spellcheck={false}
          maxLength={63}
          aria-invalid={message ? true : undefined}
          aria-describedby="dataflow-name-rule dataflow-name-check"
          onInput={(e) => props.onName(e.currentTarget.value)}
        />
      </Field>
    </Step>
  );
}

function ConnectorStep(
  props: StepNav & {
    selected: string | null;
    onSelect: (type: string) => void;
  },
) {
  const { selected, onSelect, ...nav } = props;
  const connectors = usePolled<ConnectorInfo[]>('/api/connectors');
  const [tab, setTab] = useState('All');
  const [search, setSearch] = useState('');
  const tabs = ['All', 'Marketing'];
  for (const c of connectors.data ?? []) for (const cat of c.categories) if (!tabs.includes(cat)) tabs.push(cat);
  const q = search.trim().toLowerCase();
  const shown = (connectors.data ?? []).filter(
    (c) =>
      (tab === 'All' || c.categories.includes(tab)) &&
      (!q || c.name.toLowerCase().includes(q) || c.description.toLowerCase().includes(q)),
  );
  const tabRefs = useRef<Array<HTMLButtonElement | null>>([]);

  const onTabKey = (e: KeyboardEvent, index: number) => {
    let next = -1;
    if (e.key === 'ArrowRight') next = (index + 1) % tabs.length;
    else if (e.key === 'ArrowLeft') next = (index - 1 + tabs.length) % tabs.length;
    else if (e.key === 'Home') next = 0;
    else if (e.key === 'End') next = tabs.length - 1;
    if (next < 0) return;
    e.preventDefault();
    setTab(tabs[next]);
    tabRefs.current[next]?.focus();
  };

  return (
    <Step title="Connector" {...nav} nextDisabled={!selected}>
      <div class="toolbar">
        <div role="tablist" aria-label="Connector categories" class="tabs">
          {tabs.map((t, i) => (
            <button
              key={t}
              ref={(el) => {
                tabRefs.current[i] = el;
              }}
              type="button"
              role="tab"
              id={`tab-${t}`}
              aria-selected={tab === t}
              aria-controls="connector-panel"
              tabIndex={tab === t ? 0 : -1}
              class={`tab${tab === t ? ' active' : ''}`}
              onClick={() => setTab(t)}
              onKeyDown={(e) => onTabKey(e, i)}
            >
              {t}
            </button>
          ))}
        </div>
        <span class="spacer" />
        <SearchField id="connector-search" label="Search connectors" value={search} onValue={setSearch} />
      </div>
      <div id="connector-panel" role="tabpanel" aria-labelledby={`tab-${tab}`}>
        <ErrorAlert error={connectors.error} />
        {connectors.loading && <p class="muted">Loading connectors…</p>}
        {connectors.data && shown.length === 0 && <p class="muted">No connector matches. Clear the search.</p>}
        <div class="cards" role="radiogroup" aria-label="Connector">
          {shown.map((c) => {
            const chosen = selected === c.type;
            return (
              <div
                key={c.type}
                role="radio"
                aria-checked={chosen}
                tabIndex={0}
                class={`card${chosen ? ' selected' : ''}`}
                onClick={() => onSelect(c.type)}
                onKeyDown={(e) => {
                  if (e.key === 'Enter' || e.key === ' ') {
                    e.preventDefault();
                    onSelect(c.type);
                  }
                }}
              >
                <span class="card-logo" aria-hidden="true">
                  {c.name.slice(0, 1)}
                </span>
                <span class="card-text">
                  <span class="card-title">{c.name}</span>
                  <span class="card-desc">{c.description}</span>
                  <span class="card-tags">{c.categories.join(' · ')}</span>
                </span>
              </div>
            );
          })}
        </div>
      </div>
    </Step>
  );
}
