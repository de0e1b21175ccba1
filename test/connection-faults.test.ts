// A database that goes away under a connection must fail that connection's work, never the process
// around it (the worker runs every recovery in flight): pg clients emit 'error' on a lost
// connection, and an unheard 'error' event ends a Node process.
import { inject, describe, expect, it } from 'vitest';
import { withClient } from '../activities/postgres/connection.js';
import { observed } from './helpers.js';

describe('a lost database connection', () => {
  it('fails the query in flight and the next one, and the process lives on', async () => {
    const admin = inject('pgAdminUrl');
    const outcome = withClient(admin, async (client) => {
      const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      const slow = client.query('SELECT pg_sleep(30)').then(
        () => 'finished',
        (err: Error) => err.message,
      );
      await withClient(admin, (other) => other.query('SELECT pg_terminate_backend($1)', [pid]));
      expect(await slow).toMatch(/terminat/);
      return client.query('SELECT 1');
    });
    await expect(outcome).rejects.toThrow(/Connection terminated|not queryable|terminat/i);
    // The process is still here to run more work.
    await expect(withClient(admin, (c) => c.query('SELECT 1 AS one'))).resolves.toMatchObject({ rows: [{ one: 1 }] });
    observed(
      'database connection dropped under the worker',
      'the query in flight and the next failed with the reason; the process ran the next query',
    );
  });

  it('an idle connection dropped by the server does not end the process', async () => {
    const admin = inject('pgAdminUrl');
    await withClient(admin, async (client) => {
      const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      await withClient(admin, (other) => other.query('SELECT pg_terminate_backend($1)', [pid]));
      // Wait for the server to have closed it: the next query fails, the process does not.
      await expect(client.query('SELECT 1')).rejects.toThrow();
    });
  });
});
