import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** A request as the scripted server saw it. */
export interface SeenRequest {
  url: string;
  headers: http.IncomingHttpHeaders;
  at: number;
}

export type ScriptedHandler = (req: http.IncomingMessage, res: http.ServerResponse, seen: SeenRequest) => void;

/**
 * A tiny local HTTP server whose answers each test scripts, for the client's unit tests. Every request
 * is recorded; `close()` ends open connections too.
 */
export interface ScriptedHttpServer {
  baseUrl: string;
  requests: SeenRequest[];
  handle(handler: ScriptedHandler): void;
  close(): Promise<void>;
}

export async function startScriptedHttpServer(): Promise<ScriptedHttpServer> {
  const requests: SeenRequest[] = [];
  let handler: ScriptedHandler = (_req, res) => {
    res.statusCode = 500;
    res.end();
  };
  const server = http.createServer((req, res) => {
    const seen = { url: req.url ?? '', headers: req.headers, at: Date.now() };
    requests.push(seen);
    handler(req, res, seen);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    requests,
    handle(next) {
      handler = next;
      requests.length = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Answers with a JSON:API body. */
export function sendJson(
  res: http.ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/vnd.api+json', ...headers });
  res.end(text);
}

/** A Klaviyo error document. */
export function errorBody(status: number, code: string, detail: string, parameter?: string) {
  return {
    errors: [
      { id: 'e1', status, code, title: code, detail, source: parameter ? { parameter } : { pointer: '/data/' } },
    ],
  };
}
