import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { Accounts } from '../../src/service/index.js';
import { Directory, directoryOptions } from '../../src/directory/index.js';
import { startDirectory, type RunningDirectory } from '../../src/roles/index.js';
import { Metrics, silentLogger } from '../../src/core/index.js';
import { loadTlsMaterial } from '../../src/crypto/index.js';
import type { LdapFilter, LdapResponse } from '../../src/wire/ldap/index.js';
import { STORE_KINDS, openTestStore, type TestStore } from '../helpers/env.js';
import { BASE, BIND_ADDRESS, BIND_PASSWORD, practice } from '../helpers/ldap-fixture.js';
import { RawLdapClient } from '../helpers/net.js';

/** A subtree search below BASE on a raw connection: its entries and its result. */
function search(c: RawLdapClient, filter: LdapFilter, attributes: string[], sizeLimit = 0): Promise<LdapResponse[]> {
  return c.request({ type: 'search', baseObject: BASE, scope: 'sub', derefAliases: 0, sizeLimit, timeLimit: 0, typesOnly: false, filter, attributes });
}

/**
 * Which of `pids` holds the server side of a connection (by its socket inode in /proc). The
 * process that accepted it may hold it for a moment after passing it on; a child never holds a
 * connection it does not serve, so a child holding it is the one.
 */
function servingPid(pids: number[], serverPort: number, clientPort: number): number | undefined {
  const hex = (p: number): string => p.toString(16).toUpperCase().padStart(4, '0');
  const lines = readFileSync('/proc/net/tcp', 'utf8').split('\n');
  const want = `0100007F:${hex(serverPort)} 0100007F:${hex(clientPort)}`;
  const line = lines.find((l) => l.includes(want));
  if (!line) return undefined;
  const inode = line.trim().split(/\s+/)[9];
  const owners = pids.filter((pid) => {
    try {
      return readdirSync(`/proc/${pid}/fd`).some((fd) => {
        try {
          return readlinkSync(`/proc/${pid}/fd/${fd}`) === `socket:[${inode}]`;
        } catch {
          return false;
        }
      });
    } catch {
      return false;
    }
  });
  return owners.find((p) => p !== pids[0]) ?? owners[0];
}

/** A response without its message ID, for comparing answers across connections. */
function shape(rs: LdapResponse[]): unknown {
  return rs.map(({ messageId: _m, ...rest }) => rest);
}

for (const kind of STORE_KINDS) {
  describe(`directory.processes: 2 (${kind})`, () => {
    let ts: TestStore | null = null;
    let role: RunningDirectory;
    let metrics: Metrics;
    let caPem: string;

    before(async () => {
      ts = await openTestStore(kind, { directory: { ldap: { starttls: { port: 0 }, implicit: { port: 0 } }, bindFailureDelayMs: 50, processes: 2 } });
      if (!ts) return;
      const accounts = new Accounts(ts.store.db, ts.store.blobs);
      await accounts.addDomain('praxis.kim.test');
      await accounts.add({ address: BIND_ADDRESS, password: BIND_PASSWORD, displayName: 'Praxis A' });
      const directory = new Directory(ts.store, directoryOptions(ts.config.directory));
      for (let i = 0; i < 30; i++) await directory.add(practice(i));
      const tls = await loadTlsMaterial(ts.config, ['localhost', '127.0.0.1']);
      caPem = tls.cert;
      metrics = new Metrics();
      role = await startDirectory(ts.config, silentLogger(), { store: ts.store, accounts, directory, tls, metrics });
    });

    after(async () => {
      await ts?.close();
    });

    test('connections are spread over both processes, answers are the same, binds and LDAPS work in the child, close ends the child', async (t) => {
      if (!ts) return t.skip(`${kind} not available`);
      assert.equal(role.pids.length, 2);
      const ldapPort = role.endpoints.ldap!.port;
      const ldapsPort = role.endpoints.ldaps!.port;
      const byMail: LdapFilter = { type: 'equality', attribute: 'mail', value: Buffer.from('praxis-0007@anbieter.kim.telematik') };
      const byTelematik: LdapFilter = { type: 'equality', attribute: 'telematikID', value: Buffer.from('1-20010012') };
      const prefix: LdapFilter = { type: 'substrings', attribute: 'displayName', initial: Buffer.from('Praxis Dr. Muster 001'), any: [] };
      const conns: RawLdapClient[] = [];
      const owners: number[] = [];
      const answers: unknown[] = [];
      try {
        // Opened one after another: each goes to the process with the fewest open connections
        // (this one on a tie), so they alternate; the first and the fourth are LDAPS (TLS in
        // this process and in the child).
        const tls = (k: number): boolean => k === 0 || k === 3;
        for (let k = 0; k < 4; k++) {
          const c = tls(k) ? await RawLdapClient.connect(ldapsPort, { tls: { ca: caPem, servername: 'localhost', rejectUnauthorized: true } }) : await RawLdapClient.connect(ldapPort);
          conns.push(c);
          // Twice: the second time the warm index answers (when it is built by then) the same way.
          for (let round = 0; round < 2; round++) {
            const a = [await search(c, byMail, ['userCertificate;binary', 'mail', 'cn']), await search(c, byTelematik, []), await search(c, prefix, ['telematikID'], 5)];
            answers.push(shape(a.flat()));
          }
          owners.push(servingPid(role.pids, tls(k) ? ldapsPort : ldapPort, c.socket.localPort!)!);
        }
        assert.deepEqual(owners, [role.pids[0], role.pids[1], role.pids[0], role.pids[1]]);
        for (const a of answers) assert.deepEqual(a, answers[0]);
        const first = answers[0] as Array<{ type: string; resultCode?: number }>;
        assert.equal(first.filter((r) => r.type === 'entry').length, 1 + 1 + 5);
        assert.equal(first.at(-1)!.resultCode, 4); // the prefix matches 10 entries: sizeLimitExceeded at 5

        // A bind on a connection the child serves checks the accounts in the store.
        const child = conns[1]!;
        const good = await child.request({ type: 'bind', version: 3, name: `mail=${BIND_ADDRESS},${BASE}`, auth: { method: 'simple', password: Buffer.from(BIND_PASSWORD) } });
        assert.equal((good[0] as { resultCode: number }).resultCode, 0);
        const bad = await child.request({ type: 'bind', version: 3, name: `mail=${BIND_ADDRESS},${BASE}`, auth: { method: 'simple', password: Buffer.from('wrong') } });
        assert.equal((bad[0] as { resultCode: number }).resultCode, 49);
      } finally {
        for (const c of conns) c.close();
      }
      const childPid = role.pids[1]!;
      await role.close();
      assert.throws(() => process.kill(childPid, 0), /ESRCH/);
      // The child's counts reached this process's metrics (sent before it exited).
      const searches = metrics.value('postamt_ldap_operations_total', { listener: 'ldap', op: 'search', result: 'success' }) + metrics.value('postamt_ldap_operations_total', { listener: 'ldaps', op: 'search', result: 'success' });
      assert.equal(searches, 4 * 2 * 2);
      assert.equal(metrics.value('postamt_ldap_binds_total', { listener: 'ldap', result: 'invalidCredentials' }), 1);
    });
  });
}
