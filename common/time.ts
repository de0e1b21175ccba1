// The one way durations and times read, wherever a person sees them: the CLI, Slack, the timeline
// of a run, reports and the board. Pure: workflows use it too.

const SECOND = 1_000;

/**
 * A duration as people write it: "45 s", "12 min 5 s", "1 h 12 min", "72 h", "5 d 3 h".
 * Hours are kept up to 99 h because the DR document speaks in hours (24 h, 48 h, 72 h).
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return '—';
  if (ms < 0) return `−${formatDuration(-ms)}`;
  if (ms === 0) return '0 s';
  if (ms < SECOND) return '< 1 s';
  const s = Math.round(ms / SECOND);
  if (s < 60) return `${s} s`;
  if (s < 3600) {
    const m = Math.floor(s / 60);
    const rest = s % 60;
    return rest ? `${m} min ${rest} s` : `${m} min`;
  }
  const totalMinutes = Math.floor(s / 60);
  const h = Math.floor(totalMinutes / 60);
  if (h < 100) {
    const m = totalMinutes % 60;
    return m ? `${h} h ${m} min` : `${h} h`;
  }
  const d = Math.floor(h / 24);
  const restH = h % 24;
  return restH ? `${d} d ${restH} h` : `${d} d`;
}

/** Milliseconds since the epoch of an ISO time, or undefined when it is missing or not a time. */
export function timeOf(iso: string | undefined): number | undefined {
  if (!iso) return undefined;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? undefined : t;
}

/** "2026-11-22 04:05:12 UTC": seconds precision, always UTC, so a report reads the same anywhere. */
export function formatTime(iso: string | undefined): string {
  const t = timeOf(iso);
  if (t === undefined) return iso ? iso : '—';
  return `${new Date(t).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}
