import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { isListening } from './free-port';
import { isProcessAlive } from './managed-process';

/**
 * `<dataDir>/stack.json`: where the running local stack's services are, so the CLI and the demo find them.
 * It holds the database password and the sandbox keys, hence mode 0600.
 */
export const stackFileSchema = z.object({
  /** The process running the stack (`stack/up.ts`). */
  pid: z.number().int().positive(),
  startedAt: z.string(),
  dataDir: z.string(),
  temporal: z.object({
    address: z.string(),
    namespace: z.string(),
    uiUrl: z.string().nullable(),
    pid: z.number().int().positive().nullable(),
    logFile: z.string(),
  }),
  postgres: z.object({
    /** Password included. */
    url: z.string(),
    embedded: z.boolean(),
    pid: z.number().int().positive().nullable(),
  }),
  sandbox: z.object({
    baseUrl: z.string(),
    keys: z.object({ full: z.string(), readOnly: z.string(), noProfiles: z.string() }),
  }),
  worker: z.object({ pid: z.number().int().positive(), logFile: z.string() }).nullable(),
  /** The Imports console (absent in stack files written before it existed). */
  console: z.object({ url: z.string(), pid: z.number().int().positive(), logFile: z.string() }).nullable().optional(),
});
export type StackFile = z.infer<typeof stackFileSchema>;

export function stackFilePath(dataDir: string): string {
  return path.join(dataDir, 'stack.json');
}

/** The stack file's content; undefined when there is none or it is not ours to read (malformed). */
export function readStackFile(dataDir: string): StackFile | undefined {
  let text: string;
  try {
    text = fs.readFileSync(stackFilePath(dataDir), 'utf8');
  } catch {
    return undefined;
  }
  const parsed = stackFileSchema.safeParse(safeJson(text));
  return parsed.success ? parsed.data : undefined;
}

/** Written to a temporary name and renamed, so a reader never sees half a file. */
export function writeStackFile(dataDir: string, stack: StackFile): void {
  const file = stackFilePath(dataDir);
  const temporary = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(temporary, `${JSON.stringify(stackFileSchema.parse(stack), null, 2)}\n`, { mode: 0o600 });
  fs.renameSync(temporary, file);
}

/** Removes the stack file if it still describes the stack of process `pid`. */
export function removeStackFile(dataDir: string, pid: number): void {
  if (readStackFile(dataDir)?.pid === pid) fs.rmSync(stackFilePath(dataDir), { force: true });
}

/**
 * The stack described by `<dataDir>/stack.json` when it is really running: its process is alive and Temporal
 * answers on its address (a live pid alone could be a reused one after a crash or reboot).
 */
export async function findRunningStack(dataDir: string): Promise<StackFile | undefined> {
  const stack = readStackFile(dataDir);
  if (!stack || !isProcessAlive(stack.pid)) return undefined;
  const [host, port] = splitAddress(stack.temporal.address);
  return (await isListening(port, host)) ? stack : undefined;
}

function splitAddress(address: string): [string, number] {
  const colon = address.lastIndexOf(':');
  return [address.slice(0, colon), Number(address.slice(colon + 1))];
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
