// What the repository's WAL archive offers a recovery along the newest timeline, read before an
// in-place restore stops production: the timeline path (the newest timeline's history file: each
// ancestor and the position where it was left), which backups lie on that path (a backup taken on
// an older timeline after it was left, such as the safety backup of an earlier in-place restore,
// cannot start a recovery along the newer one: PostgreSQL refuses it as "not a child of this
// server's history"), and whether every segment from a backup's start to a given segment is there.
import type { PhysicalBackup } from './backups.js';
import { pgbackrest } from './run.js';
import type { PhysicalTarget } from './target.js';

export interface ArchivePath {
  /** The newest timeline. */
  timeline: number;
  /** Its ancestors in order, each with the WAL position where the next one branched off it. */
  left: Array<{ timeline: number; at: bigint }>;
  /** The names (timeline and number) of the segments in the archive. */
  segments: Set<string>;
}

const SEGMENT_BYTES = 16n * 1024n * 1024n;
const hex8 = (n: bigint | number) => n.toString(16).toUpperCase().padStart(8, '0');

/** A segment's number (16 MB segments: 256 per log id) and the name of number `n` on a timeline. */
const segmentNumber = (name: string) => BigInt(`0x${name.slice(8, 16)}`) * 256n + BigInt(`0x${name.slice(16, 24)}`);
const segmentName = (timeline: number, n: bigint) => `${hex8(timeline)}${hex8(n / 256n)}${hex8(n % 256n)}`;

function lsn(text: string): bigint {
  const [high, low] = text.split('/');
  return (BigInt(`0x${high}`) << 32n) | BigInt(`0x${low}`);
}

/** The timeline a WAL segment name is on (its first 8 hex digits). */
export const timelineOf = (segment: string): number => parseInt(segment.slice(0, 8), 16);

export async function archivePath(p: PhysicalTarget): Promise<ArchivePath> {
  const root = `archive/${p.settings.stanza}`;
  const listing = await pgbackrest(p.runner, 'repo-ls', ['--recurse'], [root]);
  const segments = new Set([...listing.matchAll(/\b([0-9A-F]{24})-[0-9a-f]{40}/g)].map((m) => m[1]!));
  const histories = [...listing.matchAll(/^(\S*?)([0-9A-F]{8})\.history$/gm)].map((m) => ({ file: m[0], timeline: parseInt(m[2]!, 16) }));
  const newest = histories.sort((a, b) => a.timeline - b.timeline).at(-1);
  if (!newest) return { timeline: Math.max(1, ...[...segments].map(timelineOf)), left: [], segments };
  const history = await pgbackrest(p.runner, 'repo-get', [], [`${root}/${newest.file}`]);
  const left = [...history.matchAll(/^\s*(\d+)\s+([0-9A-F]+\/[0-9A-F]+)/gim)].map((m) => ({ timeline: Number(m[1]), at: lsn(m[2]!) }));
  return { timeline: newest.timeline, left, segments };
}

/** Whether recovery along the newest timeline can start from the backup: it ended on that timeline's path before the path left its timeline. */
export function onPath(path: ArchivePath, backup: PhysicalBackup): boolean {
  const timeline = timelineOf(backup.walStart);
  if (timeline === path.timeline) return true;
  const left = path.left.find((l) => l.timeline === timeline);
  return left !== undefined && (segmentNumber(backup.walStop) + 1n) * SEGMENT_BYTES <= left.at;
}

/** The newest backup on the newest timeline's path (onPath) that ended before `time`; any time without one. */
export function startingBackupOnPath(path: ArchivePath, backups: PhysicalBackup[], time?: string): PhysicalBackup | undefined {
  const before = time && new Date(time).toISOString();
  return backups.filter((b) => (!before || b.stoppedAt < before) && onPath(path, b)).at(-1);
}

/**
 * The first segment recovery along the newest timeline needs between `from` and `to` (both included)
 * that the archive lacks; undefined when none is missing. Each number is read from the newest
 * timeline of the path that had begun by then, as PostgreSQL reads it.
 */
export function firstMissingSegment(path: ArchivePath, from: string, to: string): string | undefined {
  const begins = [
    ...path.left.map((l, i) => ({ timeline: l.timeline, begin: i === 0 ? 0n : path.left[i - 1]!.at / SEGMENT_BYTES })),
    { timeline: path.timeline, begin: path.left.length ? path.left.at(-1)!.at / SEGMENT_BYTES : 0n },
  ];
  for (let n = segmentNumber(from); n <= segmentNumber(to); n++) {
    const timeline = begins.filter((b) => b.begin <= n).at(-1)?.timeline ?? path.timeline;
    const name = segmentName(timeline, n);
    if (!path.segments.has(name)) return name;
  }
  return undefined;
}
