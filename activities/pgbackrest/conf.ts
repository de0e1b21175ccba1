// The pgBackRest configuration file Lifeboat writes for a target (one file per stanza), and the
// archive_command that pushes WAL through it. Written by the worker before each pgBackRest command
// and by the embedded stack before its PostgreSQL starts, from this one function, so both agree.
// The S3 keys are never in the file: pgBackRest reads them from PGBACKREST_REPO1_S3_KEY(_SECRET).
import { join } from 'node:path';

export interface RepoSettings {
  /** https://host[:port] of the S3 store: pgBackRest 2.45 speaks only HTTPS to S3. */
  endpoint: string;
  bucket: string;
  region: string;
  /** The repository's folder inside the bucket. */
  path: string;
  /** The CA file the store's certificate is checked against; the system's CAs when absent. */
  caFile?: string;
  retentionFull: number;
  compressType: 'lz4' | 'gz' | 'zst' | 'none';
  /** pgBackRest's process-max: parallel processes of a backup or restore. */
  processMax?: number;
}

export interface StanzaSettings {
  stanza: string;
  /** The folder holding the configuration file, pgBackRest's lock and log folders. */
  dir: string;
  pgPath: string;
  pgPort: number;
  /** The folder of PostgreSQL's Unix socket: pgBackRest talks to a local server through it. */
  socketPath: string;
  pgUser?: string;
  repo: RepoSettings;
}

export function confFile(dir: string, stanza: string): string {
  return join(dir, `${stanza}.conf`);
}

/** The repository's address as pgBackRest takes it (host, port), refusing plain HTTP with what to write instead. */
function s3Address(endpoint: string): { host: string; port: number } {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new Error(`"${endpoint}" is not a URL: write the store's HTTPS address, such as https://s3.example.com`);
  }
  if (url.protocol !== 'https:')
    throw new Error(
      `pgBackRest 2.45 reaches S3 only over HTTPS, and ${endpoint} is ${url.protocol.replace(':', '')}: set physical.repoEndpoint to the store's https:// address (with physical.caFile if its certificate is signed by your own CA)`,
    );
  return { host: url.hostname, port: url.port ? Number(url.port) : 443 };
}

export function pgbackrestConf(s: StanzaSettings): string {
  const { host, port } = s3Address(s.repo.endpoint);
  const global = [
    'repo1-type=s3',
    `repo1-s3-endpoint=${host}`,
    `repo1-storage-port=${port}`,
    `repo1-s3-bucket=${s.repo.bucket}`,
    `repo1-s3-region=${s.repo.region}`,
    'repo1-s3-uri-style=path',
    ...(s.repo.caFile ? [`repo1-storage-ca-file=${s.repo.caFile}`] : []),
    `repo1-path=${s.repo.path}`,
    `repo1-retention-full=${s.repo.retentionFull}`,
    `compress-type=${s.repo.compressType}`,
    ...(s.repo.processMax && s.repo.processMax > 1 ? [`process-max=${s.repo.processMax}`] : []),
    `lock-path=${join(s.dir, 'lock')}`,
    `log-path=${join(s.dir, 'log')}`,
    'log-level-file=off',
    'log-level-console=warn',
    'log-level-stderr=warn',
    'start-fast=y',
  ];
  const stanza = [
    `pg1-path=${s.pgPath}`,
    `pg1-port=${s.pgPort}`,
    `pg1-socket-path=${s.socketPath}`,
    ...(s.pgUser ? [`pg1-user=${s.pgUser}`] : []),
  ];
  return `# Written by Lifeboat: changes are overwritten.\n[global]\n${global.join('\n')}\n\n[${s.stanza}]\n${stanza.join('\n')}\n`;
}

/** PostgreSQL's archive_command for the stanza: every completed WAL segment pushed into the repository. */
export function archiveCommand(dir: string, stanza: string): string {
  return `pgbackrest --config=${confFile(dir, stanza)} --stanza=${stanza} archive-push %p`;
}
