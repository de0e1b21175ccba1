// A finished run's report as the store holds it: its Markdown rendered with marked, where raw HTML
// is shown as text (never passed through), links go only to http(s) or this board, and the
// timeline image the Markdown names is the stored SVG, drawn inline.
import { Marked, type Tokens } from 'marked';
import { TIMELINE_FILE } from '../../../activities/reports/report.js';
import { type SafeHtml, escapeHtml, html, inlineSvg, trusted } from '../html.js';
import { reportHref, runHref } from './parts.js';

const SAFE_HREF = /^(https?:\/\/|\/|#)/i;

function reportMarked(svg: string | undefined): Marked {
  return new Marked({
    gfm: true,
    renderer: {
      // Raw HTML in a report (a summary that held "<script>") is text.
      html: ({ text }: Tokens.HTML | Tokens.Tag) => escapeHtml(text),
      link({ href, text }: Tokens.Link) {
        return SAFE_HREF.test(href) ? `<a href="${escapeHtml(href)}" rel="noopener noreferrer">${escapeHtml(text)}</a>` : escapeHtml(text);
      },
      image({ href, text }: Tokens.Image) {
        if (href === TIMELINE_FILE && svg)
          return `<span class="timeline" role="img" aria-label="${escapeHtml(text)}">${inlineSvg(svg)}</span>`;
        return escapeHtml(`[image: ${text}]`);
      },
    },
  });
}

/** The report's body; `svg` is the stored timeline picture (our own renderer's output, which escapes every text it draws). */
export function renderReport(id: string, markdown: string, svg: string | undefined): SafeHtml {
  const body = reportMarked(svg).parse(markdown, { async: false });
  return html`<p class="muted">Report <code>${id}</code>, read from the store. <a href="${runHref(id)}">The run's page</a></p>
    <article class="report">${trusted(body)}</article>`;
}

/** Every report the store holds, newest first by id (ids start with their date). */
export function renderReportList(ids: string[]): SafeHtml {
  const sorted = [...ids].sort((a, b) => (a.replace(/^\D+/, '') < b.replace(/^\D+/, '') ? 1 : -1));
  return html`<h1>Reports</h1>
    <p class="muted">Every finished run's report in the store (${sorted.length}).</p>
    ${
      sorted.length
        ? html`<ul>
            ${sorted.map((id) => html`<li><a href="${reportHref(id)}">${id}</a></li>`)}
          </ul>`
        : html`<p>None yet: a report is written when an incident or drill ends.</p>`
    }`;
}
