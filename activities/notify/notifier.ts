// Every alert and announcement goes through a notifier: the console by default, Slack when a bot
// token is configured. Runs post into one thread each; approvals and tasks carry buttons, and the
// message is replaced in place once decided.
import type { ApprovalRequest } from '../../common/plans.js';

export interface Notice {
  severity: 'info' | 'warning' | 'critical';
  title: string;
  text: string;
  /** The run's thread (the reference its first notice returned); absent, this notice starts one. */
  thread?: string;
  /** A message posted earlier (its reference) that this notice replaces: a step once ended, a gate once decided. */
  replaces?: string;
  /** Something waiting for a person: rendered with buttons while open, with the decision once settled. */
  action?: NoticeAction;
}

interface ActionBase {
  /** The workflow holding the gate or task (a plan runs as a child of its incident or drill). */
  workflowId: string;
  incidentId: string;
  /** The gate's or task's name, as the `approve`/`complete` Updates take it. */
  name: string;
  /** Once settled: the buttons are replaced by who decided, when and why. */
  settled?: { outcome: 'approved' | 'rejected' | 'done' | 'aborted' | 'expired'; by: string; at: string; reason?: string };
}

/** An approval gate: what will change, who may approve, how many approvals are needed, who approved so far. */
export interface ApprovalAction extends ActionBase {
  kind: 'approval';
  request: ApprovalRequest;
  approvers: string[];
  required: number;
  approvedBy: string[];
}

/** A human task, with the choices the person must make when completing it (a button cannot carry them). */
export interface TaskAction extends ActionBase {
  kind: 'task';
  choices?: string[];
}

/** An approval gate or human task, as a notifier shows it; the buttons send Updates to `workflowId`. */
export type NoticeAction = ApprovalAction | TaskAction;

/** Where a notice went: pass `ref` as `thread` or `replaces` later. Notifiers without threads return none. */
export interface Posted {
  ref?: string;
}

export interface Notifier {
  notify(notice: Notice): Promise<Posted>;
}

const icon = { info: 'ℹ', warning: '⚠', critical: '✖' } as const;

export class ConsoleNotifier implements Notifier {
  constructor(private readonly write: (line: string) => void = (line) => console.log(line)) {}

  async notify(notice: Notice): Promise<Posted> {
    this.write(`${icon[notice.severity]} [${notice.severity}] ${notice.title}: ${notice.text}`);
    return {};
  }
}
