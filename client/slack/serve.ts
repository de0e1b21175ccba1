// `lifeboat slack serve`: the approval receiver as a long-running process, until SIGINT/SIGTERM.
// Refuses (exit 2) before reaching anything when Slack is not configured, or its signing key or a
// secret is missing.
import type { LifeboatConfig } from '../../config/config.js';
import { ConfigError } from '../../common/errors.js';
import { connectClient } from '../follow.js';
import { receiverSecrets, startReceiver } from './receiver.js';

export async function serveSlack(config: LifeboatConfig, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const slack = config.notify.slack;
  if (!slack) {
    throw new ConfigError(
      'notify.slack is not configured: add notify.slack (channel, users, receiver) to the configuration (README: "Slack: approvals from a button")',
    );
  }
  receiverSecrets(slack, env); // names the missing key or variable before Temporal is reached
  const client = await connectClient(config);
  const receiver = await startReceiver({ slack, temporal: client, env });
  console.log(
    receiver.transport === 'http'
      ? `listening on ${receiver.url} (Slack's Request URL is this path on your public https address); Ctrl-C to stop`
      : 'connected to Slack in Socket Mode; Ctrl-C to stop',
  );
  if (receiver.transport === 'http' && isLoopback(slack.receiver.host)) {
    console.log(
      `only this machine can reach it: a reverse proxy on another host, or a container's published port, needs notify.slack.receiver.host: 0.0.0.0`,
    );
  }
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  await receiver.stop();
  await client.connection.close();
  console.log(`stopped (${signal})`);
}

const isLoopback = (host: string) => host === 'localhost' || host === '::1' || /^127\./.test(host);
