// Heartbeats for long activities: at most twice a second, carrying progress the CLI shows.
import { Context } from '@temporalio/activity';
import type { Readable } from 'node:stream';
import type { Progress } from '../common/backups.js';

export function heartbeater(): (progress: Progress) => void {
  let last = 0;
  return (progress) => {
    const now = Date.now();
    if (now - last < 500) return;
    last = now;
    Context.current().heartbeat(progress);
  };
}

/** Heartbeats every few seconds while `work` runs: for long single statements that report no progress. */
export async function heartbeatWhile<T>(detail: Progress, work: () => Promise<T>): Promise<T> {
  const context = Context.current();
  const timer = setInterval(() => context.heartbeat(detail), 5_000);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}

/** Heartbeats the bytes read from `stream` so far, under `phase`; returns the stream. */
export function reportBytes<T extends Readable>(stream: T, phase: string): T {
  const beat = heartbeater();
  let bytes = 0;
  stream.on('data', (chunk: Buffer) => beat({ phase, bytes: (bytes += chunk.length) }));
  return stream;
}
