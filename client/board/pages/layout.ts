// The frame of every board page: one stylesheet and one script from this server (the policy allows
// nothing else), a skip link and a header for keyboards, and the live region the script refreshes.
import { type SafeHtml, html } from '../html.js';

export interface PageOptions {
  title: string;
  /** The event stream that keeps <main> current, and the snapshot the page was rendered from. */
  live?: { events: string; seq: number };
}

export function page(main: SafeHtml, options: PageOptions): string {
  const live = options.live;
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${options.title} · Lifeboat</title>
        <link rel="stylesheet" href="/static/board.css" />
        <script src="/static/board.js" defer></script>
      </head>
      <body>
        <a class="skip" href="#live">Skip to content</a>
        <header class="top">
          <a href="/" class="brand">Lifeboat board</a> <a href="/reports">Reports</a> <span class="muted">read-only</span>
        </header>
        <main id="live" tabindex="-1" ${live ? html` data-events="${live.events}" data-seq="${live.seq}"` : ''}>${main}</main>
        <footer class="muted"><span id="connection" role="status">${live ? 'live: updates arrive by themselves' : ''}</span></footer>
      </body>
    </html> `.value;
}
