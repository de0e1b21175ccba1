// The worker's log: Temporal's runtime logger (the SDK's own lines, and the workflow and activity
// loggers) writes through the worker's redactor, so a secret inside an error or a log line's
// metadata never reaches stderr whole. Installed once per process, before the first connection.
import { DefaultLogger, type LogEntry, type LogLevel, Runtime } from '@temporalio/worker';
import { inspect } from 'node:util';
import type { Redactor } from '../common/redact.js';

/** Formats an entry as the SDK's default logger does, then redacts the whole line. */
export function redactedLogFunction(redactor: Redactor, write: (line: string) => void = (line) => process.stderr.write(line)) {
  return (entry: LogEntry): void => {
    const time = new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString();
    const meta = entry.meta === undefined ? '' : ` ${inspect(entry.meta, { breakLength: Infinity, depth: 6 })}`;
    write(`${redactor.text(`${time} [${entry.level}] ${entry.message}${meta}`)}\n`);
  };
}

export function installRedactedLogging(redactor: Redactor, level: LogLevel = 'INFO'): void {
  Runtime.install({ logger: new DefaultLogger(level, redactedLogFunction(redactor)) });
}
