import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Dataset } from '../data/dataset';
import type { FaultDecision } from './faults';
import type { LatencyModel } from './latency';
import type { RequestLog, RequestLogEntry } from './request-log';

const CONTENT_TYPE = 'application/vnd.api+json';

/** An answer, decided, on its way out: what it says and the fault (if any) to deliver it with. */
export interface Answer {
  status: number;
  body: Buffer;
  headers: Record<string, string>;
  fault: FaultDecision | null;
}

/** What the request log says of a request, before it knows how the answer went out. */
export type RequestFacts = Omit<RequestLogEntry, 'status' | 'bytes' | 'durationMs' | 'fault'>;

/** The request log's facts of a request's first line: when it arrived, its method, path and query string. */
export function requestLine(req: IncomingMessage, url: URL, arrived: string, method: string) {
  return { time: arrived, method: req.method ?? method, path: url.pathname, query: url.search.replace(/^\?/, '') };
}

/**
 * Sends `answer` as the network and the injected fault would: held back until the latency model's time from its
 * arrival, then by a `slow` fault, then reset, cut short (`truncate`), mangled (`malformed`) or sent whole with
 * Klaviyo's headers; logs what happened. `started` is when the request arrived (performance.now()).
 */
export async function deliver(
  ctx: { latency?: LatencyModel; log: RequestLog; dataset: Dataset },
  req: IncomingMessage,
  res: ServerResponse,
  answer: Answer,
  facts: RequestFacts,
  started: number,
): Promise<void> {
  const { fault } = answer;
  // The model's time is the answer's whole time from the request's arrival, as the latency it stands for includes
  // Klaviyo's own work on the page: the time the sandbox took to make the answer (its queue on a loaded machine
  // included) is inside it, not added to it. A `slow` fault's delay comes on top.
  const modelMs = ctx.latency?.delayFor(answer.body.length) ?? 0;
  const delayMs = Math.max(0, modelMs - (performance.now() - started)) + (fault?.delayMs ?? 0);
  if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
  const action = fault?.action.kind ?? 'none';
  const logged = {
    ...facts,
    status: answer.status,
    fault: action !== 'none' ? action : fault && fault.delayMs > 0 ? 'slow' : null,
  };
  const durationMs = () => Math.round(performance.now() - started);
  if (action === 'reset') {
    req.socket.destroy();
    ctx.log.add({ ...logged, status: 0, bytes: 0, durationMs: durationMs() });
    return;
  }
  let body = answer.body;
  if (action === 'truncate') body = body.subarray(0, Math.floor(body.length / 2));
  if (action === 'malformed')
    body = Buffer.concat([body.subarray(0, Math.floor(body.length / 3)), Buffer.from('\u0000}{,]<html>')]);
  res.writeHead(answer.status, {
    'Content-Type': CONTENT_TYPE,
    'Content-Length': String(body.length),
    // Klaviyo's Date is Klaviyo's clock; the sandbox's is its own (moved by `advance`), not the host's.
    Date: new Date(ctx.dataset.state.clockSec * 1000).toUTCString(),
    ...answer.headers,
  });
  res.end(body);
  ctx.log.add({ ...logged, bytes: body.length, durationMs: durationMs() });
}
