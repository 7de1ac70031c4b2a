import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import nodeTls from 'node:tls';
import type { TLSConfig } from '@temporalio/client';

/**
 * How the worker, the CLI and the console authenticate to Temporal: plain gRPC (the local stack), TLS with the
 * system's or a given CA, mutual TLS with a client certificate, and/or an API key (Temporal Cloud). Read from the
 * environment when a connection is opened; a certificate or key may be given as PEM text or as a file path.
 * Nothing here ever puts a private key or the API key into a message.
 */
export interface TemporalSecurity {
  /** `false`: plain gRPC. */
  tls: TLSConfig | false;
  apiKey: string | undefined;
}

export const PLAIN_GRPC: TemporalSecurity = { tls: false, apiKey: undefined };

/** A setting the user can fix: the message names the variable and what to do. */
export class TemporalSecurityError extends Error {
  override readonly name = 'TemporalSecurityError';
}

export const TEMPORAL_SECURITY_VARIABLES = [
  'TEMPORAL_TLS_CERT',
  'TEMPORAL_TLS_KEY',
  'TEMPORAL_TLS_CA',
  'TEMPORAL_TLS_SERVER_NAME',
  'TEMPORAL_TLS',
  'TEMPORAL_API_KEY',
] as const;

/**
 * The security settings of `env`. TLS is on when any TLS variable or `TEMPORAL_API_KEY` is set (Temporal Cloud
 * takes API keys over TLS only), or with `TEMPORAL_TLS=1`; `TEMPORAL_TLS=0` turns it off for an API key sent
 * over a private plain-text network.
 */
export function readTemporalSecurity(env: NodeJS.ProcessEnv = process.env): TemporalSecurity {
  const cert = pemSetting(env, 'TEMPORAL_TLS_CERT', 'CERTIFICATE');
  const key = pemSetting(env, 'TEMPORAL_TLS_KEY', 'PRIVATE KEY');
  const ca = pemSetting(env, 'TEMPORAL_TLS_CA', 'CERTIFICATE');
  const serverName = env.TEMPORAL_TLS_SERVER_NAME?.trim() || undefined;
  const apiKey = env.TEMPORAL_API_KEY?.trim() || undefined;
  const tlsFlag = env.TEMPORAL_TLS?.trim();
  if (tlsFlag !== undefined && tlsFlag !== '' && tlsFlag !== '0' && tlsFlag !== '1') {
    throw new TemporalSecurityError(`TEMPORAL_TLS must be 1 (TLS on) or 0 (plain gRPC), not "${tlsFlag}".`);
  }
  if (cert && !key) {
    throw new TemporalSecurityError(
      'TEMPORAL_TLS_CERT is set but TEMPORAL_TLS_KEY is not: mutual TLS needs the client certificate and its private key.',
    );
  }
  if (key && !cert) {
    throw new TemporalSecurityError(
      'TEMPORAL_TLS_KEY is set but TEMPORAL_TLS_CERT is not: mutual TLS needs the client certificate and its private key.',
    );
  }
  if (cert && key) checkPair(cert, key);
  if (ca) checkCertificate(ca, 'TEMPORAL_TLS_CA');
  const wantsTls = Boolean(cert || ca || serverName || apiKey || tlsFlag === '1');
  if (tlsFlag === '0' && (cert || ca || serverName)) {
    throw new TemporalSecurityError(
      'TEMPORAL_TLS=0 turns TLS off, yet TEMPORAL_TLS_CERT, _CA or _SERVER_NAME is set: unset one.',
    );
  }
  if (!wantsTls || tlsFlag === '0') return { tls: false, apiKey };
  return {
    tls: {
      ...(serverName ? { serverNameOverride: serverName } : {}),
      ...(ca ? { serverRootCACertificate: ca } : {}),
      ...(cert && key ? { clientCertPair: { crt: cert, key } } : {}),
    },
    apiKey,
  };
}

/** What the Temporal SDK's `Connection.connect` and `NativeConnection.connect` take besides the address. */
export function connectionOptions(security: TemporalSecurity): { tls?: TLSConfig; apiKey?: string } {
  return {
    ...(security.tls ? { tls: security.tls } : {}),
    ...(security.apiKey ? { apiKey: security.apiKey } : {}),
  };
}

/**
 * A failed connection to Temporal in words a user can act on. gRPC only says it could not connect, so the TLS
 * handshake is tried again on its own ({@link probeTls}) to learn why: the advice names the setting to fix, and the
 * SDK's own message follows (it names no secret).
 */
export async function explainConnectionFailure(
  address: string,
  security: TemporalSecurity,
  err: unknown,
): Promise<string> {
  const raw = err instanceof Error ? err.message : String(err);
  const probe = await probeTls(address, security).catch(() => undefined);
  return `${advise(address, security, `${probe ?? ''} ${raw}`.toLowerCase())} (${scrub(raw, security)})`;
}

function advise(address: string, security: TemporalSecurity, text: string): string {
  const tls = security.tls;
  if (!tls && text.includes('speaks tls')) {
    return (
      `Temporal at ${address} requires TLS: set TEMPORAL_TLS_CA to the CA of its certificate (or TEMPORAL_TLS=1 when ` +
      'the system trusts it), with TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY if it asks for a client certificate, or TEMPORAL_API_KEY.'
    );
  }
  if (tls && /certificate_required|handshake_failure|peer sent no certificates|closed after handshake/.test(text)) {
    return tls.clientCertPair
      ? `Temporal at ${address} refused the client certificate: check that TEMPORAL_TLS_CERT is signed by a CA the server trusts and TEMPORAL_TLS_KEY is its key.`
      : `Temporal at ${address} asks for a client certificate (mutual TLS): set TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY.`;
  }
  if (
    tls &&
    /alert_unknown_ca|alert_bad_certificate|alert_decrypt_error|alert_certificate_unknown|alert_access_denied/.test(
      text,
    )
  ) {
    return `Temporal at ${address} refused the client certificate: check that TEMPORAL_TLS_CERT is signed by a CA the server trusts and TEMPORAL_TLS_KEY is its key.`;
  }
  if (tls && /err_tls_cert_altname_invalid|not valid for name|altname/.test(text)) {
    return `The certificate Temporal at ${address} presented is not for that host name: set TEMPORAL_TLS_SERVER_NAME to a name it holds.`;
  }
  if (
    tls &&
    /unable_to_verify|self_signed|unable_to_get_issuer|cert_untrusted|unknownissuer|certificate verify failed|invalid peer certificate/.test(
      text,
    )
  ) {
    return (
      `The certificate Temporal at ${address} presented is not trusted: set TEMPORAL_TLS_CA to the CA that signed it` +
      (tls.serverRootCACertificate ? ' (the one given did not).' : '.')
    );
  }
  if (tls && text.includes('speaks plain')) {
    return `Temporal at ${address} does not speak TLS: unset the TEMPORAL_TLS_* settings (or TEMPORAL_TLS=0), or check TEMPORAL_ADDRESS.`;
  }
  if (/not_found|not found/.test(text) && text.includes('namespace')) {
    return `Temporal at ${address} has no such namespace: check TEMPORAL_NAMESPACE.`;
  }
  if (/unauthenticated|permission denied|permission_denied|unauthorized/.test(text)) {
    return security.apiKey
      ? `Temporal at ${address} refused the API key: check TEMPORAL_API_KEY (and that it may use TEMPORAL_NAMESPACE).`
      : `Temporal at ${address} wants credentials: set TEMPORAL_API_KEY, or TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY.`;
  }
  return `Cannot reach Temporal at ${address}: check TEMPORAL_ADDRESS${tls ? ' and the TEMPORAL_TLS_* settings' : ''}.`;
}

/**
 * One TLS handshake to `address` with the given settings, to tell why gRPC could not connect: the handshake's error
 * code (e.g. `UNABLE_TO_VERIFY_LEAF_SIGNATURE`, `ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED`), `speaks tls` when a
 * plain-gRPC client meets a TLS server, `speaks plain` the other way, or undefined when the handshake tells nothing.
 */
export async function probeTls(
  address: string,
  security: TemporalSecurity,
  timeoutMs = 3_000,
): Promise<string | undefined> {
  const at = address.lastIndexOf(':');
  const host = address.slice(0, at).replace(/^\[|\]$/g, '');
  const port = Number(address.slice(at + 1));
  const tls = security.tls;
  return new Promise((resolve) => {
    let settled = false;
    const done = (answer: string | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(answer);
    };
    const socket = nodeTls.connect({
      host,
      port,
      ALPNProtocols: ['h2'],
      servername: tls ? (tls.serverNameOverride ?? (net.isIP(host) ? undefined : host)) : undefined,
      // A plain-gRPC client only wants to know whether the server speaks TLS at all.
      rejectUnauthorized: Boolean(tls),
      ...(tls && tls.serverRootCACertificate ? { ca: Buffer.from(tls.serverRootCACertificate) } : {}),
      ...(tls && tls.clientCertPair
        ? { cert: Buffer.from(tls.clientCertPair.crt), key: Buffer.from(tls.clientCertPair.key) }
        : {}),
    });
    const timer = setTimeout(() => done(undefined), timeoutMs);
    let handshook = false;
    socket.once('secureConnect', () => {
      if (!tls) return done('speaks tls');
      // TLS 1.3 refuses a client certificate after the client's handshake is done (Node then sees only the close):
      // a server that hangs up at once, before a word, refused the certificate.
      handshook = true;
      setTimeout(() => done(undefined), 500);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      const code = err.code ?? '';
      if (tls && /WRONG_VERSION_NUMBER|PACKET_LENGTH_TOO_LONG|ECONNRESET/.test(code) && !settled)
        done(`speaks plain ${code}`);
      else done(`${code} ${err.message}`);
    });
    socket.once('close', () => done(handshook ? 'closed after handshake' : undefined));
  });
}

/** The SDK's message without anything secret in it (it never holds them; this makes sure). */
function scrub(message: string, security: TemporalSecurity): string {
  let out = message.replace(/-----BEGIN[^-]*-----[\s\S]*?-----END[^-]*-----/g, '[PEM]');
  if (security.apiKey) out = out.split(security.apiKey).join('[TEMPORAL_API_KEY]');
  return out.length > 400 ? `${out.slice(0, 400)}…` : out;
}

/** A PEM setting: the text itself, or a path to a file holding it. */
function pemSetting(env: NodeJS.ProcessEnv, name: string, kind: string): Buffer | undefined {
  const value = env[name]?.trim();
  if (!value) return undefined;
  if (value.includes('-----BEGIN')) return Buffer.from(value.replace(/\\n/g, '\n'));
  let text: Buffer;
  try {
    text = fs.readFileSync(value);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT' ? 'there is no such file' : code === 'EACCES' ? 'it cannot be read (permissions)' : code;
    throw new TemporalSecurityError(`${name} is neither PEM text nor a readable file: ${value} (${why}).`);
  }
  if (!text.includes(`-----BEGIN`) || !text.toString('utf8').includes(kind)) {
    throw new TemporalSecurityError(`${name} points to ${value}, which holds no PEM ${kind.toLowerCase()}.`);
  }
  return text;
}

function checkCertificate(pem: Buffer, name: string): crypto.X509Certificate {
  let cert: crypto.X509Certificate;
  try {
    cert = new crypto.X509Certificate(pem);
  } catch {
    throw new TemporalSecurityError(`${name} is not a readable PEM certificate.`);
  }
  if (Date.parse(cert.validTo) < Date.now()) {
    throw new TemporalSecurityError(
      `${name} expired on ${new Date(cert.validTo).toISOString().slice(0, 10)}: renew it.`,
    );
  }
  return cert;
}

function checkPair(certPem: Buffer, keyPem: Buffer): void {
  const cert = checkCertificate(certPem, 'TEMPORAL_TLS_CERT');
  let key: crypto.KeyObject;
  try {
    key = crypto.createPrivateKey(keyPem);
  } catch {
    // The key's text is never echoed.
    throw new TemporalSecurityError('TEMPORAL_TLS_KEY is not a readable, unencrypted PEM private key.');
  }
  if (!cert.checkPrivateKey(key)) {
    throw new TemporalSecurityError(
      'TEMPORAL_TLS_KEY is not the private key of TEMPORAL_TLS_CERT: give the pair issued together.',
    );
  }
}
