// `lifeboat server prepare`: readies any Temporal server for Lifeboat — the configured namespace,
// and in it the search attributes the runs upsert and the Web UI finds incidents by
// (workflows/messages.ts SEARCH_ATTRIBUTES). The dev server is given them as it starts
// (client/stack/temporal.ts); a real server gets them here.
// Guarantees: idempotent — what exists is left as it is and reported so; nothing is ever removed
// or retyped (an attribute already there with another type is reported and the command fails).
import { type Client, isGrpcServiceError } from '@temporalio/client';
import { SearchAttributeType } from '@temporalio/common';
import { encodeSearchAttributeIndexedValueType } from '@temporalio/common/lib/search-attributes.js';
import { msToTs } from '@temporalio/common/lib/time.js';
import { formatDuration } from '../common/time.js';
import { SEARCH_ATTRIBUTES } from '../workflows/messages.js';
import { CliError } from './cli-process.js';

/** What prepare did, line by line, and whether it changed anything. */
export interface Prepared {
  lines: string[];
  changed: boolean;
}

/** gRPC status codes the server answers with (grpc-js status). */
const NOT_FOUND = 5;
const ALREADY_EXISTS = 6;

/** A newly registered namespace can take a few seconds to be known to every service of the server. */
const NAMESPACE_SETTLE_MS = 60_000;

const typeName = (indexed: number | null | undefined): string =>
  Object.values(SearchAttributeType).find((t) => encodeSearchAttributeIndexedValueType(t) === indexed) ?? `type ${indexed}`;

const grpcCode = (err: unknown): number | undefined => {
  let e: unknown = err;
  while (e && !isGrpcServiceError(e)) e = (e as { cause?: unknown }).cause;
  return e ? (e as { code: number }).code : undefined;
};

export async function prepareServer(client: Client, namespace: string, retentionMs: number): Promise<Prepared> {
  const { workflowService, operatorService } = client.connection;
  const lines: string[] = [];
  let changed = false;

  const exists = await workflowService.describeNamespace({ namespace }).then(
    () => true,
    (err: unknown) => {
      if (grpcCode(err) === NOT_FOUND) return false;
      throw err;
    },
  );
  if (exists) lines.push(`✔ namespace "${namespace}" exists`);
  else {
    const created = await workflowService
      .registerNamespace({
        namespace,
        description: 'Lifeboat: disaster-recovery runbooks',
        workflowExecutionRetentionPeriod: msToTs(retentionMs),
      })
      .then(
        () => true,
        // Created by someone else between the look and the registration: it exists, as wanted.
        (err: unknown) => {
          if (grpcCode(err) === ALREADY_EXISTS) return false;
          throw err;
        },
      );
    lines.push(
      created
        ? `✔ namespace "${namespace}" created (closed runs kept ${formatDuration(retentionMs)})`
        : `✔ namespace "${namespace}" exists`,
    );
    changed ||= created;
  }

  // A namespace just created may not be known to the operator service yet: look again for a while.
  const settleBy = Date.now() + NAMESPACE_SETTLE_MS;
  for (;;) {
    try {
      const { customAttributes } = await operatorService.listSearchAttributes({ namespace });
      const wanted = SEARCH_ATTRIBUTES.map((key) => ({ key, indexed: encodeSearchAttributeIndexedValueType(key.type)! }));
      const clashes = wanted.filter(({ key, indexed }) => key.name in (customAttributes ?? {}) && customAttributes![key.name] !== indexed);
      if (clashes.length)
        throw new CliError(
          `search attribute${clashes.length > 1 ? 's' : ''} ${clashes.map(({ key }) => `${key.name} is ${typeName(customAttributes![key.name])}, not ${key.type}`).join('; ')} in namespace "${namespace}": Lifeboat needs ${clashes.length > 1 ? 'them' : 'it'} as ${clashes.map(({ key }) => key.type).join('/')}. Nothing was changed; remove or rename the attribute on the server (temporal operator search-attribute remove), then run this again`,
          1,
        );
      const missing = wanted.filter(({ key }) => !(key.name in (customAttributes ?? {})));
      for (const { key } of wanted.filter((w) => !missing.includes(w))) lines.push(`✔ search attribute ${key.name} (${key.type}) exists`);
      if (missing.length) {
        await operatorService.addSearchAttributes({
          namespace,
          searchAttributes: Object.fromEntries(missing.map(({ key, indexed }) => [key.name, indexed])),
        });
        for (const { key } of missing) lines.push(`✔ search attribute ${key.name} (${key.type}) added`);
        changed = true;
      }
      return { lines, changed };
    } catch (err) {
      if (grpcCode(err) !== NOT_FOUND || Date.now() > settleBy) throw err;
      await new Promise((ok) => setTimeout(ok, 500));
    }
  }
}
