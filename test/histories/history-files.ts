import fs from 'node:fs';
import { temporal } from '@temporalio/proto';

type History = temporal.api.history.v1.IHistory;
const HistoryMessage = temporal.api.history.v1.History;

/**
 * Histories as JSON files. The SDK's own historyToJSON/historyFromJSON fail in this install (@temporalio/common
 * brings protobufjs 8 while @temporalio/proto is built with 7: "type must be a Type"), so the proto classes the
 * worker itself uses convert both ways: 64-bit numbers as strings, enums by name, payload bytes as base64.
 */
export function writeHistory(file: string, history: History): void {
  const object = HistoryMessage.toObject(HistoryMessage.fromObject(history), {
    longs: String,
    enums: String,
    bytes: String,
  });
  fs.writeFileSync(file, `${JSON.stringify(object, null, 1)}\n`);
}

export function readHistory(file: string): temporal.api.history.v1.History {
  return HistoryMessage.fromObject(JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>);
}
