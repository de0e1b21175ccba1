// What the `lifeboat` entry needs before and after any command, kept free of heavy imports so that
// `lifeboat --help` loads nothing else: the error that carries an exit code, and the registry of
// connections a command opened, closed once its answer is known.
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/** The connections this process opened, closed by closeClients once its command has its answer. */
const opened = new Set<{ close(): Promise<void> }>();

export const registerConnection = (connection: { close(): Promise<void> }): void => void opened.add(connection);

/**
 * Closes every connection the command opened. A command ends when its answer is known, not when the
 * runs it followed end: a drill's verdict comes while its workflow still waits weeks for its
 * improvements task, and a pending wait for that workflow's result would keep the process alive.
 */
export async function closeClients(): Promise<void> {
  const connections = [...opened];
  opened.clear();
  await Promise.all(connections.map((c) => c.close().catch(() => undefined)));
}
