// Knowing at once that a run moved on: each watched workflow's history is long-polled
// (getWorkflowExecutionHistory with waitNewEvent, as a client waiting for a result does), so the
// server answers as soon as an event is written — a gate or task that opens ends a workflow task —
// and a caller waits for that instead of looking again every so often.
import type { Client } from '@temporalio/client';

export class HistoryChanges {
  private readonly watching = new Set<string>();
  private readonly closedIds = new Set<string>();
  /** One per poll in flight (a signal shared by every poll would gather a listener per poll). */
  private readonly inFlight = new Set<AbortController>();
  private stopped = false;
  private changed = false;
  private wake?: () => void;

  /** `retryMs`: after a failed poll (a server restarting, a workflow not started yet), how long before the next. */
  constructor(
    private readonly client: Client,
    private readonly retryMs: number,
  ) {}

  /** Starts watching a workflow's current run (again a no-op for one already watched). */
  watch(workflowId: string): void {
    if (this.watching.has(workflowId)) return;
    this.watching.add(workflowId);
    void this.follow(workflowId);
  }

  /** Whether the workflow's history is known to be complete: it has closed, nothing will wait in it again. */
  closed(workflowId: string): boolean {
    return this.closedIds.has(workflowId);
  }

  /** Resolves when a watched history has grown since the last call, or after `atMostMs` anyway. */
  async next(atMostMs: number): Promise<void> {
    if (!this.changed) {
      await new Promise<void>((ok) => {
        const timer = setTimeout(ok, atMostMs);
        this.wake = () => (clearTimeout(timer), ok());
      });
      this.wake = undefined;
    }
    this.changed = false;
  }

  /** Ends every poll in flight. */
  stop(): void {
    this.stopped = true;
    for (const poll of this.inFlight) poll.abort();
  }

  private fire(): void {
    this.changed = true;
    this.wake?.();
  }

  private async follow(workflowId: string): Promise<void> {
    let nextPageToken: Uint8Array | undefined;
    while (!this.stopped) {
      const poll = new AbortController();
      this.inFlight.add(poll);
      try {
        const { history, nextPageToken: token } = await this.client.withAbortSignal(poll.signal, () =>
          this.client.workflowService.getWorkflowExecutionHistory({
            namespace: this.client.options.namespace,
            execution: { workflowId },
            nextPageToken,
            waitNewEvent: true,
            skipArchival: true,
          }),
        );
        // An empty answer is the server's long poll running out: nothing happened.
        if (history?.events?.length) this.fire();
        if (!token?.length) {
          this.closedIds.add(workflowId);
          this.fire();
          return;
        }
        nextPageToken = token;
      } catch {
        if (this.stopped) return;
        await new Promise((ok) => setTimeout(ok, this.retryMs));
        this.fire();
      } finally {
        this.inFlight.delete(poll);
      }
    }
  }
}
