/** What the CLI's commands share: the --json switch and printing, option parsers, the API key's input, the API. */
import { Option, type Command } from 'commander';
import type { Dataflow } from '../../control-plane/dataflows';
import { maskApiKey } from '../../secrets/api-key';
import { DELETION_SWEEPS } from '../../klaviyo/deletion-sweep';
import { UserInputError } from '../../shared/user-input-error';
import { DataflowApi } from '../dataflow-api';

/** Every command accepts --json; human output otherwise. */
export interface Output {
  json: boolean;
}

/** `a, b,c` → ['a', 'b', 'c']. */
export const list = (value: string) =>
  value
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean);

/** `--deletion-sweep`: how often a table refreshed incrementally is swept for deletions when that is not cheap. */
export function deletionSweepOption(): Option {
  return new Option(
    '--deletion-sweep <when>',
    'how often tables refreshed incrementally are checked for rows deleted in Klaviyo, when that is not cheap ' +
      '(cheap ones every run); default daily',
  ).choices(DELETION_SWEEPS);
}

/** `--conversion-metric`: the metric campaign and flow reports count as conversions. */
export function conversionMetricOption(): Option {
  return new Option(
    '--conversion-metric <id or name>',
    'the metric campaign and flow reports count as conversions (default: the metric named "Placed Order")',
  );
}

/** `--attribution-window`: days of attribution a refresh of the report tables re-reads. */
export function attributionWindowOption(): Option {
  return new Option(
    '--attribution-window <days>',
    'days of attribution a refresh of the report tables re-reads, 1 to 90 (default 5)',
  ).argParser((value: string) => Number(value));
}

export function maskedKey(dataflow: Dataflow): string {
  return maskApiKey({ hint: dataflow.apiKeyHint });
}

export function print(out: Output, json: unknown, human: () => string): void {
  console.log(out.json ? JSON.stringify(json, null, 2) : human());
}

/** The key comes from stdin (`--api-key-stdin`) or KLAVIYO_API_KEY, never from argv (visible in `ps`). */
export async function readApiKey(fromStdin: boolean | undefined, required: boolean): Promise<string | undefined> {
  if (fromStdin) {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    // Only the line break a shell or `echo` adds is dropped; anything else is the key's own problem.
    return Buffer.concat(chunks)
      .toString('utf8')
      .replace(/\r?\n$/, '');
  }
  const fromEnv = process.env.KLAVIYO_API_KEY;
  if (fromEnv !== undefined) return fromEnv;
  if (required) {
    throw new UserInputError('No API key: pipe it in with --api-key-stdin, or set KLAVIYO_API_KEY.');
  }
  return undefined;
}

/** `--table a --table b,c` → ['a', 'b', 'c']. */
export function collectList(value: string, previous: string[]): string[] {
  return [...previous, ...list(value)];
}

/** `--json`, which every command accepts. */
export function jsonOption(): Option {
  return new Option('--json', 'print JSON');
}

/** Connects, runs `fn` and closes, whatever `fn` does. */
export async function withApi<T>(fn: (api: DataflowApi) => Promise<T>): Promise<T> {
  const api = await DataflowApi.connect();
  try {
    return await fn(api);
  } finally {
    await api.close();
  }
}

/**
 * Makes `command` (`<verb> <name>`, with --json added last) ask the API one thing of the named dataflow and print
 * the answer: as JSON with --json, else in `render`'s words.
 */
export function answerCommand<T>(
  command: Command,
  ask: (api: DataflowApi, name: string) => Promise<T>,
  render: (answer: T, name: string, opts: Record<string, unknown>) => string,
): Command {
  return command.addOption(jsonOption()).action(async (name: string, opts: Output & Record<string, unknown>) => {
    const answer = await withApi((api) => ask(api, name));
    print(opts, answer, () => render(answer, name, opts));
  });
}
