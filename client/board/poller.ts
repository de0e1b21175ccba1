// The one poller: reads Temporal once per interval (runs.ts) and the store and schedules every few
// intervals (targets.ts), whatever the number of viewers, and hands each snapshot to the event hub.
// A poll that fails leaves the last snapshot standing with the problem on it; polls never overlap.
import type { Client } from '@temporalio/client';
import type { LifeboatConfig } from '../../config/config.js';
import type { Redactor } from '../../common/redact.js';
import { RunReader } from './runs.js';
import { type Snapshot, emptySnapshot } from './snapshot.js';
import { TargetReader } from './targets.js';

export interface PollerOptions {
  /** Between two polls of Temporal. */
  intervalMs: number;
  /** Between two reads of the store and the schedules. */
  slowIntervalMs: number;
  /** How many closed runs the overview lists. */
  recent: number;
}

export class Poller {
  private current: Snapshot = emptySnapshot();
  private slow: Pick<Snapshot, 'targets' | 'reports'> & { at: number; problems: string[] } = {
    targets: [],
    reports: [],
    at: 0,
    problems: [],
  };
  private readonly listeners = new Set<(snapshot: Snapshot) => void>();
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private readonly runs: RunReader;
  readonly targets: TargetReader;

  constructor(
    client: Client,
    config: LifeboatConfig,
    env: NodeJS.ProcessEnv,
    private readonly redactor: Redactor,
    private readonly options: PollerOptions,
  ) {
    this.runs = new RunReader(client, config.temporal.taskQueue, options.recent);
    this.targets = new TargetReader(client, config, env);
  }

  get snapshot(): Snapshot {
    return this.current;
  }

  onSnapshot(listener: (snapshot: Snapshot) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Polls now, then once per interval until stop(). */
  async start(): Promise<void> {
    await this.poll();
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.poll().finally(() => this.schedule()), this.options.intervalMs);
  }

  private async poll(): Promise<void> {
    const now = Date.now();
    const problems: string[] = [];
    let runs = this.current.runs;
    try {
      runs = await this.runs.read(now, problems);
    } catch (err) {
      problems.push(`Temporal cannot be read: ${(err as Error).message} (the runs shown are from the last poll that could)`);
    }
    // A run that closed since the last poll may have just written its report: read the store now.
    const closedNow = runs.some((r) => !r.open && this.current.runs.find((o) => o.id === r.id)?.open);
    if (closedNow || now - this.slow.at >= this.options.slowIntervalMs) {
      const slowProblems: string[] = [];
      const read = await this.targets.read(slowProblems).catch((err: Error) => {
        slowProblems.push(`the store cannot be read: ${err.message}`);
        return { targets: this.slow.targets, reports: this.slow.reports };
      });
      this.slow = { ...read, at: now, problems: slowProblems };
    }
    // Whatever a run's steps or an error quote, no configured secret reaches a page.
    this.current = this.redactor.deep({
      seq: this.current.seq + 1,
      now,
      runs,
      targets: this.slow.targets,
      reports: this.slow.reports,
      problems: [...problems, ...this.slow.problems],
    });
    for (const listener of this.listeners) listener(this.current);
  }
}
