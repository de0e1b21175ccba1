// Server-sent events: each open page holds one stream, and each new snapshot from the poller is
// rendered for that page (from the snapshot, not from Temporal) and sent when it differs from what
// the page last got. Every message's id is the snapshot's sequence number: a page that reconnects
// sends it back (Last-Event-ID) and gets the current state at once when it missed anything.
import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { Poller } from './poller.js';
import type { Snapshot } from './snapshot.js';

/** What a page shows of a snapshot, or undefined when the page is gone (a run no longer listed). */
export type PageRenderer = (snapshot: Snapshot) => string | undefined;

const KEEPALIVE_MS = 15_000;

export class EventHub {
  /** Open streams: for tests and the log. */
  viewers = 0;

  constructor(private readonly poller: Poller) {}

  /** The stream of `render`'s output for a page that shows snapshot `seen` (from Last-Event-ID, or the page's own). */
  stream(c: Context, render: PageRenderer, seen: number | undefined): Response {
    return streamSSE(c, async (stream) => {
      this.viewers++;
      let last: string | undefined;
      let sending = Promise.resolve();
      const send = (snapshot: Snapshot, force: boolean) => {
        const body = render(snapshot);
        if (body === undefined || (!force && body === last)) return;
        last = body;
        sending = sending.then(() => stream.writeSSE({ id: String(snapshot.seq), event: 'update', data: body })).catch(() => undefined);
      };
      const current = this.poller.snapshot;
      // Nothing missed: the page shows this very snapshot. Otherwise it gets the current state now.
      if (seen === current.seq) last = render(current);
      else send(current, true);
      const unsubscribe = this.poller.onSnapshot((snapshot) => send(snapshot, false));
      const keepalive = setInterval(() => void stream.write(': keepalive\n\n').catch(() => undefined), KEEPALIVE_MS);
      await new Promise<void>((resolve) => stream.onAbort(resolve));
      clearInterval(keepalive);
      unsubscribe();
      this.viewers--;
    });
  }
}

/** The snapshot a reconnecting page last saw: its Last-Event-ID, else the one it was rendered from. */
export function seenOf(c: Context): number | undefined {
  const raw = c.req.header('last-event-id') ?? c.req.query('since');
  const seq = raw === undefined ? NaN : Number(raw);
  return Number.isSafeInteger(seq) ? seq : undefined;
}
