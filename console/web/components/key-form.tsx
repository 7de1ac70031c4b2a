import { useId, useRef, useState } from 'preact/hooks';
import type { ConnectResult } from '../../api-types';
import { ApiError } from '../api';
import { Field } from './field';
import { Fact, Facts } from './facts';

export const DEFAULT_BASE_URL = 'https://a.klaviyo.com';

/**
 * The private API key (a password input, never shown again), an optional API base URL, and Connect. The key is
 * handed to `connect` and the input emptied once sent: after that it lives only in the caller's variable.
 */
export function KeyForm(props: {
  connect: (apiKey: string, baseUrl: string) => Promise<ConnectResult>;
  initialBaseUrl?: string;
  label?: string;
}) {
  const input = useRef<HTMLInputElement>(null);
  const [hasKey, setHasKey] = useState(false);
  const [baseUrl, setBaseUrl] = useState(props.initialBaseUrl ?? '');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const id = useId();
  const field = error instanceof ApiError ? error.field : undefined;
  const baseUrlError = field === 'baseUrl' ? error : null;
  const keyError = error && field !== 'baseUrl' ? error : null;

  const submit = async () => {
    const apiKey = input.current?.value.trim() ?? '';
    if (!apiKey || busy) return;
    setBusy(true);
    setError(null);
    if (input.current) input.current.value = '';
    setHasKey(false);
    try {
      await props.connect(apiKey, baseUrl.trim());
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="key-form" aria-busy={busy || undefined}>
      <Field
        id={`${id}-key`}
        label={props.label ?? 'API Key'}
        help="A private API key from Klaviyo (Settings → API keys), with read access to what you want imported. It is checked against Klaviyo, stored encrypted and never shown again."
        error={keyError}
      >
        <div class="input-row">
          <input
            ref={input}
            id={`${id}-key`}
            type="password"
            autocomplete="off"
            spellcheck={false}
            aria-invalid={keyError ? true : undefined}
            aria-describedby={`${id}-key-help`}
            onInput={(e) => setHasKey(e.currentTarget.value.trim() !== '')}
            onKeyDown={(e) => {
              if (e.key === 'Enter') {
                e.preventDefault();
                void submit();
              }
            }}
          />
          <button
            type="button"
            class="btn btn-primary"
            disabled={!hasKey || busy}
            aria-busy={busy || undefined}
            onClick={() => void submit()}
          >
            {busy ? 'Connecting…' : 'Connect'}
          </button>
        </div>
      </Field>
      <details class="advanced" open={Boolean(props.initialBaseUrl) || Boolean(baseUrlError)}>
        <summary>Advanced: API base URL</summary>
        <Field
          id={`${id}-base`}
          label="API base URL"
          help={<>For a Klaviyo sandbox or another host. Leave it empty to use {DEFAULT_BASE_URL}.</>}
          error={baseUrlError}
        >
          <input
            id={`${id}-base`}
            type="url"
            placeholder={DEFAULT_BASE_URL}
            value={baseUrl}
            aria-invalid={baseUrlError ? true : undefined}
            aria-describedby={`${id}-base-help`}
            onInput={(e) => setBaseUrl(e.currentTarget.value)}
          />
        </Field>
      </details>
      {busy && (
        <p class="muted" role="status">
          Checking the key with Klaviyo and discovering the tables it can read…
        </p>
      )}
    </div>
  );
}

/** What Connect found: the account and the masked key. */
export function Connected({ result }: { result: ConnectResult }) {
  const readable = result.tables.filter((t) => t.readable).length;
  return (
    <div class="connected" role="status">
      <span class="pill pill-ok">Connected</span>
      <Facts>
        <Fact label="Account">{result.accountId}</Fact>
        <Fact label="API key">
          <code>{result.apiKeyMask}</code>
        </Fact>
        <Fact label="Tables">
          {readable} of {result.tables.length} readable
        </Fact>
      </Facts>
    </div>
  );
}
