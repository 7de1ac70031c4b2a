import { useEffect, useRef, useState } from 'preact/hooks';
import type { ConnectResult, DataflowView, DiscoveredTable, EditDataflowRequest, SavedTable } from '../../api-types';
import { api, enc, errorMessage } from '../api';
import { ErrorAlert } from '../components/alert';
import { DetailsFields } from '../components/details-fields';
import { Fact, Facts } from '../components/facts';
import { Field } from '../components/field';
import { Connected, DEFAULT_BASE_URL, KeyForm } from '../components/key-form';
import { Breadcrumbs, PageHeading } from '../components/layout';
import { Step, Stepper, TablesStep, useSave, useWizard } from '../components/wizard';
import { useTitle } from '../hooks';
import { dataflowPath, navigate } from '../router';
import { defaultSelection, sameChoices, savedSelection, tableChoices, type Selection } from '../selection';

const STEPS = ['Details', 'Connect', 'Table Details'];

interface Loaded {
  view: DataflowView;
  tables: DiscoveredTable[];
  initial: Selection;
  /** Why the tables come from what is saved rather than a fresh Connect, when they do. */
  discoveryProblem: string | null;
}

/** Edit: the wizard's steps minus Name and Connector, filled in; Save sends only what changed. */
export function EditDataflow({ name }: { name: string }) {
  useTitle(`Edit ${name}`);
  const base = `/api/dataflows/${enc(name)}`;
  const [loaded, setLoaded] = useState<Loaded | null>(null);
  const [loadError, setLoadError] = useState<unknown>(null);
  const { step, nav } = useWizard();
  const [displayName, setDisplayName] = useState('');
  const [description, setDescription] = useState('');
  const [replaced, setReplaced] = useState<{ result: ConnectResult; baseUrl: string } | null>(null);
  const [replacing, setReplacing] = useState(false);
  /** A new key Connect proved, kept only here until Save. */
  const newKey = useRef<string | null>(null);
  const [selection, setSelection] = useState<Selection>({});

  useEffect(() => {
    let live = true;
    (async () => {
      const view = await api.get<DataflowView>(base);
      const [saved, discovered] = await Promise.allSettled([
        api.get<SavedTable[]>(`${base}/tables`),
        api.post<ConnectResult>(`${base}/connect`),
      ]);
      if (saved.status === 'rejected') throw saved.reason;
      const tables: DiscoveredTable[] = discovered.status === 'fulfilled' ? discovered.value.tables : saved.value;
      const initial = savedSelection(tables, saved.value);
      if (!live) return;
      setLoaded({
        view,
        tables,
        initial,
        discoveryProblem: discovered.status === 'rejected' ? errorMessage(discovered.reason) : null,
      });
      setDisplayName(view.displayName);
      setDescription(view.description);
      setSelection(initial);
    })().catch((err: unknown) => live && setLoadError(err));
    return () => {
      live = false;
      newKey.current = null;
    };
  }, [base]);

  const tables = replaced?.result.tables ?? loaded?.tables ?? [];

  const save = useSave(async () => {
    if (!loaded) return;
    const { view } = loaded;
    const body: EditDataflowRequest = {};
    if (displayName.trim() !== view.displayName) body.displayName = displayName.trim() || view.name;
    if (description.trim() !== view.description) body.description = description.trim();
    if (replaced && newKey.current) {
      body.apiKey = newKey.current;
      const url = replaced.baseUrl || DEFAULT_BASE_URL;
      if (url !== view.baseUrl) body.baseUrl = replaced.baseUrl || DEFAULT_BASE_URL;
    }
    const choices = tableChoices(tables, selection);
    if (!sameChoices(choices, tableChoices(loaded.tables, loaded.initial))) body.tables = choices;
    if (Object.keys(body).length === 0) {
      navigate(dataflowPath(name));
      return;
    }
    await api.patch<DataflowView>(base, body);
    newKey.current = null;
    navigate(dataflowPath(name));
  });

  const crumbs = <Breadcrumbs items={[{ label: name, href: dataflowPath(name) }, { label: 'Edit' }]} />;
  if (!loaded) {
    return (
      <>
        {crumbs}
        <PageHeading>Edit {name}</PageHeading>
        <ErrorAlert error={loadError} />
        {!loadError && <p class="muted">Loading {name} and the tables its key can read…</p>}
      </>
    );
  }

  return (
    <>
      {crumbs}
      <PageHeading>Edit {name}</PageHeading>
      <Stepper steps={STEPS} current={step} />
      {step === 0 && (
        <Step key="details" title="Details" {...nav(0)} onBack={() => navigate(dataflowPath(name))} backLabel="Cancel">
          <Field
            id="edit-name"
            label="Name"
            help="A dataflow's name cannot change: it names its tables in the warehouse."
          >
            <input id="edit-name" type="text" value={loaded.view.name} readOnly aria-describedby="edit-name-help" />
          </Field>
          <DetailsFields
            displayName={displayName}
            description={description}
            onDisplayName={setDisplayName}
            onDescription={setDescription}
          />
        </Step>
      )}
      {step === 1 && (
        <Step key="connect" title="Connect" {...nav(1)}>
          {replaced ? (
            <>
              <p>The new key is checked and will replace the saved one when you save.</p>
              <Connected result={replaced.result} />
            </>
          ) : (
            <Facts>
              <Fact label="API key">
                <code>{loaded.view.apiKey}</code>
              </Fact>
              <Fact label="API base URL">{loaded.view.baseUrl}</Fact>
            </Facts>
          )}
          {!replacing ? (
            <button type="button" class="btn" onClick={() => setReplacing(true)}>
              Replace key
            </button>
          ) : (
            <>
              <KeyForm
                label="New API Key"
                initialBaseUrl={loaded.view.baseUrl === DEFAULT_BASE_URL ? '' : loaded.view.baseUrl}
                connect={async (key, baseUrl) => {
                  const result = await api.post<ConnectResult>(
                    `${base}/connect`,
                    baseUrl ? { apiKey: key, baseUrl } : { apiKey: key },
                  );
                  newKey.current = key;
                  setReplaced({ result, baseUrl });
                  // Keep the choice where the new key can read; tables it newly reaches start with their defaults.
                  const defaults = defaultSelection(result.tables);
                  const next: Selection = {};
                  for (const t of result.tables) {
                    const prev = selection[t.name];
                    next[t.name] = prev
                      ? { selected: prev.selected && t.readable, fields: prev.fields }
                      : { ...defaults[t.name], selected: false };
                  }
                  setSelection(next);
                  return result;
                }}
              />
              <button
                type="button"
                class="btn btn-link"
                onClick={() => {
                  setReplacing(false);
                  setReplaced(null);
                  newKey.current = null;
                  setSelection(loaded.initial);
                }}
              >
                Keep the saved key
              </button>
            </>
          )}
        </Step>
      )}
      {step === 2 && (
        <TablesStep key="tables" {...nav(2)} tables={tables} selection={selection} onChange={setSelection} {...save}>
          {loaded.discoveryProblem && !replaced && (
            <div class="alert alert-warn">
              <p>
                Could not check the saved key with Klaviyo now ({loaded.discoveryProblem}). The tables below are as
                saved.
              </p>
            </div>
          )}
        </TablesStep>
      )}
    </>
  );
}
