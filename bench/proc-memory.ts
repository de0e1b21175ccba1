// Memory of a process tree, read from /proc (Linux only). Used to measure a child process from
// the outside, so the measuring code's own heap never counts.
import { readFileSync, readdirSync } from 'node:fs';

interface Proc {
  pid: number;
  ppid: number;
  comm: string;
}

function readProc(pid: number): Proc | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) state ppid ...": comm may itself hold spaces and parentheses, so cut at the last ")".
    const close = stat.lastIndexOf(')');
    const ppid = Number(stat.slice(close + 2).split(' ')[1]);
    return { pid, ppid, comm: stat.slice(stat.indexOf('(') + 1, close) };
  } catch {
    return undefined; // exited while we looked
  }
}

/** The root and all its descendants, each with its depth below the root. */
function processTree(root: number): Array<Proc & { depth: number }> {
  const children = new Map<number, Proc[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const p = readProc(Number(name));
    if (p) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p]);
  }
  const self = readProc(root);
  if (!self) return [];
  const tree: Array<Proc & { depth: number }> = [];
  const visit = (p: Proc, depth: number) => {
    tree.push({ ...p, depth });
    for (const c of children.get(p.pid) ?? []) visit(c, depth + 1);
  };
  visit(self, 0);
  return tree;
}

/** A field of /proc/<pid>/status in KiB (VmRSS: resident now, VmHWM: the peak of VmRSS). */
function statusKiB(pid: number, field: 'VmRSS' | 'VmHWM'): number | undefined {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

export interface TreeMemory {
  /** The process chosen as the one doing the work (see sampleTreeMemory). */
  mainPid: number | undefined;
  /** Highest VmRSS of that process seen by the sampler. */
  mainPeakRssKiB: number;
  /** Its VmHWM when sampling stopped: the kernel's own peak, which catches spikes between samples. */
  mainHwmKiB: number;
  /** Highest sum of VmRSS over the whole tree at one sample (launchers and tools such as pg_dump included). */
  treePeakRssKiB: number;
}

/**
 * Samples the tree under `root` every `intervalMs`. The main process is the deepest `node` in the
 * tree: launchers such as tsx run the real program in a child node process, while the tools the
 * program runs (pg_dump) are not node.
 */
export function sampleTreeMemory(root: number, intervalMs = 200): { current(): TreeMemory; stop(): TreeMemory } {
  const result: TreeMemory = { mainPid: undefined, mainPeakRssKiB: 0, mainHwmKiB: 0, treePeakRssKiB: 0 };
  const sample = () => {
    const tree = processTree(root);
    let sum = 0;
    for (const p of tree) sum += statusKiB(p.pid, 'VmRSS') ?? 0;
    result.treePeakRssKiB = Math.max(result.treePeakRssKiB, sum);
    const main = tree.filter((p) => p.comm === 'node').sort((a, b) => b.depth - a.depth)[0];
    if (!main) return;
    result.mainPid = main.pid;
    result.mainPeakRssKiB = Math.max(result.mainPeakRssKiB, statusKiB(main.pid, 'VmRSS') ?? 0);
    result.mainHwmKiB = Math.max(result.mainHwmKiB, statusKiB(main.pid, 'VmHWM') ?? 0);
  };
  sample();
  const timer = setInterval(sample, intervalMs);
  return {
    current: () => (sample(), { ...result }),
    stop: () => {
      clearInterval(timer);
      sample();
      return { ...result };
    },
  };
}
