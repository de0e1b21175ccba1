// Validates docker-compose.yml, the user-facing production-like stack, without a Docker engine:
// `docker-compose config` (Compose 1.29, the Debian package) parses, interpolates and checks the file.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it, expect } from 'vitest';
import { parse } from 'yaml';

const root = fileURLToPath(new URL('..', import.meta.url));
const composeFile = join(root, 'docker-compose.yml');

interface Service {
  image?: string;
  build?: { context?: string; dockerfile?: string } | string;
  depends_on?: Record<string, { condition?: string }> | string[];
  environment?: Record<string, string | null>;
  volumes?: string[];
  ports?: string[];
}

function compose(...args: string[]) {
  const result = spawnSync('docker-compose', ['-f', 'docker-compose.yml', ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (result.error) {
    throw new Error(`could not run docker-compose (install the Debian package docker-compose): ${result.error.message}`);
  }
  return result;
}

const SERVICES = [
  'temporal-postgresql',
  'temporal-admin-tools',
  'temporal',
  'temporal-ui',
  'crm-postgresql',
  'seaweedfs',
  'seaweedfs-init',
  'lifeboat-worker',
];

describe('docker-compose.yml', () => {
  it('is valid for docker-compose 1.29, without warnings', () => {
    const result = compose('config', '-q');
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it('defines the stack: services, dependencies, build and pinned images', () => {
    const result = compose('config');
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const config = parse(result.stdout) as { services: Record<string, Service> };
    const services = config.services;

    for (const name of SERVICES) expect(Object.keys(services)).toContain(name);

    // The server starts only after the one-shot schema setup has succeeded.
    const temporalDeps = services['temporal']?.depends_on;
    expect(temporalDeps).toBeDefined();
    expect(Array.isArray(temporalDeps)).toBe(false);
    expect((temporalDeps as Record<string, { condition?: string }>)['temporal-admin-tools']?.condition).toBe(
      'service_completed_successfully',
    );

    // The worker is built from the repository's Dockerfile.
    const build = services['lifeboat-worker']?.build;
    expect(build).toBeDefined();
    expect(typeof build).toBe('object');
    const { context, dockerfile } = build as { context?: string; dockerfile?: string };
    expect(context).toBeDefined();
    expect(join(context ?? '', dockerfile ?? 'Dockerfile')).toBe(join(root, 'Dockerfile'));
    expect(existsSync(join(root, 'Dockerfile'))).toBe(true);

    // The worker gets what config/lifeboat.example.yaml interpolates, and its secrets.
    const env = services['lifeboat-worker']?.environment ?? {};
    expect(env['TEMPORAL_ADDRESS']).toBe('temporal:7233');
    expect(env['LIFEBOAT_S3_ENDPOINT']).toBe('http://seaweedfs:8333');
    for (const name of ['LIFEBOAT_S3_BUCKET', 'CRM_DATABASE_URL', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'LIFEBOAT_MANIFEST_KEY']) {
      expect(env[name], name).toBeTruthy();
    }

    // SeaweedFS reads its identities from the file in deploy/.
    const seaweedVolumes = (services['seaweedfs']?.volumes ?? []).join('\n');
    expect(seaweedVolumes).toContain(join(root, 'deploy', 'seaweedfs-s3.json'));
    expect(existsSync(join(root, 'deploy', 'seaweedfs-s3.json'))).toBe(true);

    for (const [name, service] of Object.entries(services)) {
      const image = service.image;
      if (!image) continue;
      // Deprecated upstream: schema setup is the temporal-admin-tools one-shot instead.
      expect(image, name).not.toMatch(/^(docker\.io\/)?temporalio\/auto-setup(:|$)/);
      // Every pulled image is pinned to a tag.
      if (!service.build) {
        expect(image, name).toMatch(/:[^/]+$/);
        expect(image, name).not.toMatch(/:latest$/);
      }
    }
  });

  it('has no top-level name: key, which docker-compose 1.29 rejects', () => {
    const text = readFileSync(composeFile, 'utf8');
    const doc = parse(text) as Record<string, unknown>;
    expect(Object.keys(doc)).not.toContain('name');
    expect(text).not.toMatch(/^name\s*:/m);
  });
});
