import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { z } from 'zod/v4';
import { apiKeyHint, maskApiKey } from '../../secrets/api-key';
import type { DataflowApi } from '../../client/dataflow-api';
import type { SessionInfo } from '../api-types';
import { API_ROUTES, type ApiRoute } from './api-routes';
import { ConsoleHttpError, httpErrorOf } from './http-errors';
import { openApiDocument } from './openapi';
import { RequestGuard, type Caller } from './request-guard';
import { ConsoleSessions, clearedSessionCookie, cookieValue, SESSION_COOKIE, sessionCookie } from './sessions';
import { appPage, buildWebAssets, loginPage, type WebAssets } from './web-assets';

export interface ConsoleServerOptions {
  api: DataflowApi;
  /** The address the server will listen on: a loopback one also restricts the `Host` names it answers to. */
  host: string;
  /** `DATAFLOW_CONSOLE_TOKEN`: when set, every page and API call needs it (sign-in page or bearer header). */
  token?: string;
  /** Mark the session cookie `Secure` (the console is served over HTTPS by a proxy). @default false */
  secureCookies?: boolean;
  /** @default built from console/web at start */
  assets?: WebAssets;
  /** Where unexpected errors are told. @default console.error */
  logError?: (line: string) => void;
}

/** Pages and API answers alike: no script but the console's own, no framing, no referrer, no sniffing. */
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  // Not no-referrer: under it Chromium sends `Origin: null` with the sign-in form, which the forgery check refuses.
  'referrer-policy': 'same-origin',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

/** Paths a console with a token serves before sign-in. */
const PUBLIC_PATHS = new Set(['/login', '/assets/app.css', '/api/health', '/favicon.ico']);

/**
 * The Imports console: the web app and the JSON API under `/api/`, a thin layer over {@link DataflowApi}.
 * Every rule (names, keys, scopes, selection defaults, locks) is the API's; this adds only HTTP.
 */
export async function createConsoleServer(options: ConsoleServerOptions): Promise<FastifyInstance> {
  const assets = options.assets ?? (await buildWebAssets());
  const sessions = new ConsoleSessions(options.token);
  const guard = new RequestGuard(sessions, options.host);
  const logError = options.logError ?? ((line: string) => console.error(line));
  // Request logging stays off: a body may hold an API key, and a URL is all a log line would add.
  const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
  app.removeContentTypeParser('text/plain');

  const callers = new WeakMap<FastifyRequest, Caller>();
  /** The keys a request brought, so that no answer to it can carry them back (belt and braces). */
  const keysOf = new WeakMap<FastifyRequest, string[]>();

  app.addHook('onRequest', async (request, reply) => {
    reply.headers(SECURITY_HEADERS);
    const caller = guard.caller(request);
    callers.set(request, caller);
    const path = request.url.split('?')[0];
    if (sessions.authRequired && caller.kind === 'anonymous' && !PUBLIC_PATHS.has(path)) {
      if (path.startsWith('/api/')) {
        throw new ConsoleHttpError(401, 'Unauthorized', 'Sign in first: send the console token as a bearer header.');
      }
      return reply.redirect(`/login`, 303);
    }
    guard.checkForgery(request, caller);
    if (path.startsWith('/api/')) reply.header('cache-control', 'no-store');
  });

  app.addHook('preHandler', async (request) => {
    const body = request.body as { apiKey?: unknown } | undefined;
    if (body && typeof body.apiKey === 'string' && body.apiKey.length >= 4) keysOf.set(request, [body.apiKey]);
  });

  app.addHook('onSend', async (request, _reply, payload) => {
    const keys = keysOf.get(request);
    if (!keys || typeof payload !== 'string') return payload;
    return keys.reduce((text, key) => text.split(key).join(maskApiKey({ hint: apiKeyHint(key) })), payload);
  });

  app.setErrorHandler((err, request, reply) => {
    const { status, body } = fastifyError(err) ?? httpErrorOf(err);
    if (status >= 500) logError(`console: ${request.method} ${request.url.split('?')[0]}: ${body.error.message}`);
    void reply.code(status).type('application/json').send(JSON.stringify(body));
  });

  app.setNotFoundHandler((request, reply) => {
    if (request.url.startsWith('/api/') || request.method !== 'GET') {
      void reply
        .code(404)
        .type('application/json')
        .send(
          JSON.stringify({
            error: { code: 'NotFound', message: `No such API route: ${request.method} ${request.url.split('?')[0]}` },
          }),
        );
      return;
    }
    sendAppPage(request, reply);
  });

  const sendAppPage = (request: FastifyRequest, reply: FastifyReply) => {
    const caller = callers.get(request);
    const csrf = caller?.kind === 'browser' ? caller.session.csrfToken : '';
    void reply.header('cache-control', 'no-store').type('text/html; charset=utf-8').send(appPage(csrf));
  };

  app.get('/', async (_request, reply) => reply.redirect('/imports', 302));
  app.get('/assets/app.js', async (_request, reply) =>
    reply.type('text/javascript; charset=utf-8').header('cache-control', 'no-cache').send(assets.script),
  );
  app.get('/assets/app.css', async (_request, reply) =>
    reply.type('text/css; charset=utf-8').header('cache-control', 'no-cache').send(assets.stylesheet),
  );
  app.get('/favicon.ico', async (_request, reply) => reply.code(204).send());
  app.get('/api/health', async () => ({ ok: true }));
  app.get('/api/session', async (): Promise<SessionInfo> => ({
    authRequired: sessions.authRequired,
    temporalUiUrl: options.api.settings.uiUrl,
    namespace: options.api.settings.namespace,
  }));
  app.get('/api/openapi.json', async () => openApiDocument(API_ROUTES));

  await app.register(async (login) => {
    login.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(body as string)));
    });
    login.get('/login', async (_request, reply) => {
      if (!sessions.authRequired) return reply.redirect('/imports', 303);
      return reply.type('text/html; charset=utf-8').send(loginPage());
    });
    login.post('/login', async (request, reply) => {
      if (!sessions.authRequired) return reply.redirect('/imports', 303);
      const token = (request.body as { token?: unknown } | undefined)?.token;
      if (typeof token !== 'string' || !sessions.tokenMatches(token)) {
        await new Promise((resolve) => setTimeout(resolve, 400)); // a guess costs time
        return reply.code(401).type('text/html; charset=utf-8').send(loginPage('That is not the console token.'));
      }
      const session = sessions.signIn();
      return reply
        .header('set-cookie', sessionCookie(session, options.secureCookies ?? false))
        .redirect('/imports', 303);
    });
    login.post('/logout', async (request, reply) => {
      sessions.signOut(cookieValue(request.headers.cookie, SESSION_COOKIE));
      return reply.header('set-cookie', clearedSessionCookie()).redirect('/login', 303);
    });
  });

  for (const route of API_ROUTES) registerApiRoute(app, route, options.api);
  return app;
}

function registerApiRoute(app: FastifyInstance, route: ApiRoute, api: DataflowApi): void {
  app.route({
    method: route.method,
    url: route.path,
    handler: async (request, reply) => {
      const body = route.body ? parse(route.body, request.body ?? {}, 'body') : undefined;
      const query = route.query ? parse(route.query, request.query ?? {}, 'query') : undefined;
      const result = await route.handle({ api, params: request.params as Record<string, string>, body, query });
      return reply
        .code(route.status ?? 200)
        .type('application/json')
        .send(JSON.stringify(result ?? null));
    },
  });
}

/** Input checked against its schema; the first problem is told with the field it concerns, never the value. */
function parse<T>(schema: z.ZodType<T>, input: unknown, where: string): T {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const field = issue.path.join('.') || where;
  const message =
    issue.code === 'unrecognized_keys'
      ? `Unknown ${where} field${issue.keys.length > 1 ? 's' : ''}: ${issue.keys.join(', ')}.`
      : `Invalid ${where} field "${field}": ${issue.message}.`;
  throw new ConsoleHttpError(400, 'InvalidRequest', message, field);
}

/** Fastify's own refusals (a body that is not JSON, too large, a wrong media type), in plain words. */
function fastifyError(err: unknown): ReturnType<typeof httpErrorOf> | null {
  const code = (err as { code?: unknown })?.code;
  const status = (err as { statusCode?: unknown })?.statusCode;
  if (typeof code !== 'string' || !code.startsWith('FST_') || typeof status !== 'number') {
    if (err instanceof SyntaxError && typeof status === 'number')
      return plain(400, 'InvalidJson', 'The request body is not valid JSON.');
    return null;
  }
  if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    return plain(415, 'UnsupportedMediaType', 'Send the request body as JSON (content-type: application/json).');
  }
  if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') return plain(413, 'BodyTooLarge', 'The request body is too large.');
  if (code === 'FST_ERR_CTP_INVALID_JSON_BODY') return plain(400, 'InvalidJson', 'The request body is not valid JSON.');
  if (code === 'FST_ERR_CTP_EMPTY_JSON_BODY') {
    return plain(400, 'InvalidJson', 'The request says it sends JSON but its body is empty: send {} instead.');
  }
  // Fastify's other messages (e.g. a JSON parse error) can quote the body, which may hold a key: never echo them.
  return plain(status, 'InvalidRequest', 'The request could not be read.');
}

function plain(status: number, code: string, message: string) {
  return { status, body: { error: { code, message } } };
}
