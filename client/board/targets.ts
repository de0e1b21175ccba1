// The board's slower reads, done every few polls rather than every one: per target the newest
// verified backup (its age against the freshness limit), the drills recorded in the store, the
// next runs of its schedules; and which runs have a report in the store.
import type { Client } from '@temporalio/client';
import { trendRow } from '../../activities/reports/drill-report.js';
import { type RunReport, listReports, reportKeys } from '../../activities/reports/report.js';
import { Catalog } from '../../activities/storage/catalog.js';
import { manifestKeyOf } from '../../activities/storage/manifest-file.js';
import { openStore } from '../../activities/storage/open.js';
import type { BackupStore } from '../../activities/storage/store.js';
import { type LifeboatConfig, durationMs } from '../../config/config.js';
import { scheduleId } from '../schedules.js';
import type { TargetView } from './snapshot.js';

const NEXT: Array<keyof TargetView['next']> = ['backup', 'verify', 'drill'];

export class TargetReader {
  private readonly stores = new Map<string, BackupStore>();
  /** The stores the targets use, each once. */
  private readonly storeNames: string[];

  constructor(
    private readonly client: Client,
    private readonly config: LifeboatConfig,
    private readonly env: NodeJS.ProcessEnv,
  ) {
    this.storeNames = [...new Set(Object.values(config.targets).map((t) => t.store))];
  }

  private store(name: string): BackupStore {
    let store = this.stores.get(name);
    if (!store) this.stores.set(name, (store = openStore(name, this.config.stores[name]!, this.env)));
    return store;
  }

  async read(problems: string[]): Promise<{ targets: TargetView[]; reports: string[] }> {
    // Each store's reports are read once: the drills of every target and the list of reports come from them.
    const reportsOf = new Map<string, RunReport[]>();
    for (const name of this.storeNames) {
      reportsOf.set(
        name,
        await listReports(this.store(name)).catch((err: Error) => {
          problems.push(`the reports in store "${name}" cannot be read: ${err.message}`);
          return [];
        }),
      );
    }
    const targets = await Promise.all(
      Object.entries(this.config.targets).map(async ([name, target]): Promise<TargetView> => {
        const drills = (reportsOf.get(target.store) ?? []).flatMap((r) =>
          r.drill && r.drill.target === name ? [trendRow(r.drill, r.context.declaredAt)] : [],
        );
        const view: TargetView = {
          name,
          store: target.store,
          maxAgeMs: durationMs(this.config.freshness.maxAge),
          next: await this.next(name, problems),
          drills,
        };
        try {
          const { backups } = await new Catalog(this.store(target.store), manifestKeyOf(this.config, this.env)).survey(name);
          const verified = backups.find((b) => b.verification?.result === 'passed');
          if (verified) view.newestVerified = { id: verified.manifest.id, startedAt: verified.manifest.startedAt };
        } catch (err) {
          view.storeProblem = `store "${target.store}" cannot be read: ${(err as Error).message}`;
          problems.push(view.storeProblem);
        }
        return view;
      }),
    );
    return { targets, reports: [...reportsOf.values()].flat().map((r) => r.id) };
  }

  /** The next run of each of the target's schedules, as `lifeboat schedule apply` names them. */
  private async next(target: string, problems: string[]): Promise<TargetView['next']> {
    const next: TargetView['next'] = {};
    for (const kind of NEXT) {
      try {
        const d = await this.client.schedule.getHandle(scheduleId(kind, target)).describe();
        const at = d.state.paused ? undefined : d.info.nextActionTimes[0];
        if (at) next[kind] = at.toISOString();
      } catch (err) {
        if ((err as Error).name !== 'ScheduleNotFoundError')
          problems.push(`schedule ${scheduleId(kind, target)}: ${(err as Error).message}`);
      }
    }
    return next;
  }

  /** A run's report from the store of any target: its Markdown and timeline picture (read per request: it is not Temporal). */
  async reportFiles(id: string): Promise<{ markdown: string; svg?: string } | undefined> {
    const keys = reportKeys(id);
    for (const name of this.storeNames) {
      const markdown = await this.store(name).getText(keys.markdown);
      if (markdown !== undefined) return { markdown, svg: await this.store(name).getText(keys.svg) };
    }
    return undefined;
  }
}
