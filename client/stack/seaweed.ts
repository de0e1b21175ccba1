// SeaweedFS as the S3-compatible backup store, every port on loopback and chosen free. S3 is served
// over HTTP (Lifeboat's own SDK clients) and, beside it, over HTTPS with a certificate made for the
// run (pgBackRest 2.45 speaks only HTTPS to S3, and checks the certificate against the stack's CA).
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Tracker } from './pidfile.js';
import { type Daemon, freePorts, startDaemon, venvTool, waitForPort } from './processes.js';
import { makeCertificates } from './tls.js';

export interface S3Server {
  endpoint: string;
  /** The same store over HTTPS (https://localhost:port), for pgBackRest. */
  httpsEndpoint: string;
  /** The CA that signed the HTTPS certificate. */
  caFile: string;
  accessKeyId: string;
  secretAccessKey: string;
  createBucket(name: string): Promise<void>;
  stop(): Promise<void>;
  /** Ends the server at once, as a crash would (for fault tests); its data stays. */
  kill(): Promise<void>;
  /** Starts a killed server again on the same folder and ports. */
  restart(): Promise<void>;
}

export async function startSeaweed(
  logFile: string,
  credentials = { accessKeyId: 'lifeboat', secretAccessKey: 'lifeboat-secret' },
  tracker?: Tracker,
): Promise<S3Server> {
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-s3-'));
  tracker?.folder(dir);
  const [master, volume, filer, s3, masterGrpc, volumeGrpc, filerGrpc, s3Grpc, s3Https] = await freePorts(9);
  const tls = await makeCertificates();
  tracker?.folder(tls.dir);
  const config = join(dir, 's3.json');
  writeFileSync(
    config,
    JSON.stringify({
      identities: [
        {
          name: 'lifeboat',
          credentials: [{ accessKey: credentials.accessKeyId, secretKey: credentials.secretAccessKey }],
          actions: ['Admin', 'Read', 'Write', 'List', 'Tagging'],
        },
      ],
    }),
  );
  const args = [
    'server',
    '-ip=127.0.0.1',
    '-ip.bind=127.0.0.1',
    `-dir=${dir}`,
    `-master.port=${master}`,
    `-master.port.grpc=${masterGrpc}`,
    '-master.volumeSizeLimitMB=1024',
    `-volume.port=${volume}`,
    `-volume.port.grpc=${volumeGrpc}`,
    '-volume.max=0',
    '-filer',
    `-filer.port=${filer}`,
    `-filer.port.grpc=${filerGrpc}`,
    '-s3',
    `-s3.port=${s3}`,
    `-s3.port.grpc=${s3Grpc}`,
    `-s3.config=${config}`,
    `-s3.port.https=${s3Https}`,
    `-s3.cert.file=${tls.certFile}`,
    `-s3.key.file=${tls.keyFile}`,
    '-s3.port.iceberg=0',
    '-s3.port.lance=0',
  ];
  const endpoint = `http://127.0.0.1:${s3}`;
  let daemon: Daemon;
  const launch = async () => {
    daemon = startDaemon(venvTool('weed'), args, logFile, { tracker });
    await waitForPort(s3!, 'SeaweedFS S3', 60_000, () => daemon.process.exitCode === null);
    await waitForPort(s3Https!, 'SeaweedFS S3 (HTTPS)', 60_000, () => daemon.process.exitCode === null);
  };
  await launch();
  const client = new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  const cleanup = () => (rmSync(dir, { recursive: true, force: true }), tls.remove());
  return {
    endpoint,
    httpsEndpoint: `https://localhost:${s3Https}`,
    caFile: tls.caFile,
    ...credentials,
    async createBucket(name) {
      // The S3 port opens before the filer behind it is ready (longer on a loaded machine): retry for a minute.
      const deadline = Date.now() + 60_000;
      for (;;) {
        try {
          await client.send(new CreateBucketCommand({ Bucket: name }));
          return;
        } catch (err) {
          const code = (err as { name?: string }).name;
          if (code === 'BucketAlreadyExists' || code === 'BucketAlreadyOwnedByYou') return;
          if (Date.now() > deadline) throw err;
          await new Promise((ok) => setTimeout(ok, 200));
        }
      }
    },
    stop: async () => (await daemon.stop(), cleanup()),
    kill: () => daemon.kill(),
    restart: launch,
  };
}
