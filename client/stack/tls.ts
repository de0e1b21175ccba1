// A throwaway certificate authority and a server certificate for localhost and 127.0.0.1, made with
// openssl, so the stack's S3 store speaks real HTTPS that clients verify (pgBackRest 2.45 reaches
// S3 over HTTPS only). The CA's key is deleted once it has signed: nothing else can be issued.
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface Certificates {
  dir: string;
  /** The CA certificate clients trust (readable by every user: PostgreSQL's archive_command reads it). */
  caFile: string;
  certFile: string;
  keyFile: string;
  remove(): void;
}

export async function makeCertificates(): Promise<Certificates> {
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-tls-'));
  chmodSync(dir, 0o755);
  const file = (name: string) => join(dir, name);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const openssl = (args: string[]) =>
    run('openssl', args).catch((err: Error) => {
      throw new Error(`openssl could not make the stack's TLS certificate (is openssl installed?): ${err.message}`);
    });
  await openssl([
    'req',
    '-x509',
    ...ec,
    '-keyout',
    file('ca.key'),
    '-out',
    file('ca.crt'),
    '-days',
    '30',
    '-subj',
    '/CN=Lifeboat stack CA',
  ]);
  await openssl(['req', ...ec, '-keyout', file('server.key'), '-out', file('server.csr'), '-subj', '/CN=localhost']);
  // pgBackRest 2.45 matches the host name against DNS names only: clients reach the store as "localhost".
  writeFileSync(
    file('server.ext'),
    'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n',
  );
  await openssl([
    'x509',
    '-req',
    '-in',
    file('server.csr'),
    '-CA',
    file('ca.crt'),
    '-CAkey',
    file('ca.key'),
    '-CAcreateserial',
    '-out',
    file('server.crt'),
    '-days',
    '30',
    '-extfile',
    file('server.ext'),
  ]);
  rmSync(file('ca.key'));
  chmodSync(file('ca.crt'), 0o644);
  return {
    dir,
    caFile: file('ca.crt'),
    certFile: file('server.crt'),
    keyFile: file('server.key'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
