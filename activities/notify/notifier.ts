// Every alert and announcement goes through a notifier. The console is the default; other
// channels plug in behind the same interface.
export interface Notice {
  severity: 'info' | 'warning' | 'critical';
  title: string;
  text: string;
}

export interface Notifier {
  notify(notice: Notice): Promise<void>;
}

const icon = { info: 'ℹ', warning: '⚠', critical: '✖' } as const;

export class ConsoleNotifier implements Notifier {
  constructor(private readonly write: (line: string) => void = (line) => console.log(line)) {}

  async notify(notice: Notice): Promise<void> {
    this.write(`${icon[notice.severity]} [${notice.severity}] ${notice.title}: ${notice.text}`);
  }
}
