import { Client } from 'ldapts';
import { Accounts } from '../../src/service/index.js';
import { Directory, directoryOptions } from '../../src/directory/index.js';
import { startDirectory, type RunningDirectory } from '../../src/roles/index.js';
import { silentLogger } from '../../src/core/index.js';
import { openTestStore, type StoreKind, type TestStore } from './env.js';
import { loadTlsMaterial } from '../../src/crypto/index.js';

export const BASE = 'dc=data,dc=vzd';
export const BIND_ADDRESS = 'praxis-a@praxis.kim.test';
export const BIND_PASSWORD = 'correct horse battery';

export interface LdapFixture {
  ts: TestStore;
  directory: Directory;
  role: RunningDirectory;
  ldapUrl: string;
  ldapsUrl: string;
  host: string;
  ldapPort: number;
  ldapsPort: number;
  /** The self-signed certificate the listeners present (for LDAPTLS_CACERT / ca). */
  caPath: string;
  caPem: string;
  close(): Promise<void>;
}

/**
 * A real directory role on a real store (SQLite or PostgreSQL) with real accounts for binds.
 * `seed` adds entries through the Directory's public API before the listeners open.
 */
export async function startLdapFixture(
  kind: StoreKind,
  seed: (d: Directory) => Promise<void>,
  directoryConfig: Record<string, unknown> = {},
): Promise<LdapFixture | null> {
  const ts = await openTestStore(kind, { directory: { ldap: { starttls: { port: 0 }, implicit: { port: 0 } }, bindFailureDelayMs: 50, ...directoryConfig } });
  if (!ts) return null;
  try {
    const accounts = new Accounts(ts.store.db, ts.store.blobs);
    await accounts.addDomain('praxis.kim.test');
    await accounts.add({ address: BIND_ADDRESS, password: BIND_PASSWORD, displayName: 'Praxis A' });
    const directory = new Directory(ts.store, directoryOptions(ts.config.directory));
    await seed(directory);
    const tls = await loadTlsMaterial(ts.config, ['localhost', '127.0.0.1']);
    const role = await startDirectory(ts.config, silentLogger(), { store: ts.store, accounts, directory, tls });
    const host = '127.0.0.1';
    const ldapPort = role.endpoints.ldap!.port;
    const ldapsPort = role.endpoints.ldaps!.port;
    return {
      ts,
      directory,
      role,
      host,
      ldapPort,
      ldapsPort,
      ldapUrl: `ldap://${host}:${ldapPort}`,
      ldapsUrl: `ldaps://${host}:${ldapsPort}`,
      caPath: tls.certPath,
      caPem: tls.cert,
      close: async () => {
        await role.close();
        await ts.close();
      },
    };
  } catch (err) {
    await ts.close();
    throw err;
  }
}

/** A VZD-like practice entry. */
export function practice(i: number, extra: Array<{ name: string; value: string | Buffer }> = []): { uid: string; attributes: Array<{ name: string; value: string | Buffer }> } {
  const n = String(i).padStart(4, '0');
  return {
    uid: `uid-${n}`,
    attributes: [
      { name: 'telematikID', value: `1-2001${n}` },
      { name: 'displayName', value: `Praxis Dr. Muster ${n}` },
      { name: 'sn', value: `Muster${n}` },
      { name: 'givenName', value: 'Max' },
      { name: 'mail', value: `praxis-${n}@anbieter.kim.telematik` },
      { name: 'postalCode', value: String(10000 + i) },
      { name: 'localityName', value: i % 2 ? 'Berlin' : 'München' },
      { name: 'stateOrProvinceName', value: i % 2 ? 'Berlin' : 'Bayern' },
      { name: 'streetAddress', value: `Hauptstraße ${i}` },
      { name: 'organization', value: `Org ${n}` },
      { name: 'entryType', value: String((i % 5) + 1) },
      ...extra,
    ],
  };
}

export async function ldapClient(url: string, opts: { ca?: string; timeout?: number } = {}): Promise<Client> {
  return new Client({ url, timeout: opts.timeout ?? 10_000, connectTimeout: 5_000, ...(opts.ca ? { tlsOptions: { ca: [opts.ca] } } : {}) });
}

/** A SearchRequest whose filter is `levels` nested NOTs, encoded iteratively. */
export function deepSearch(levels: number): Buffer {
  const tlv = (tag: number, body: Buffer): Buffer => {
    const n = body.length;
    const len = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : n < 0x10000 ? [0x82, n >> 8, n & 0xff] : [0x83, n >> 16, (n >> 8) & 0xff, n & 0xff];
    return Buffer.concat([Buffer.from([tag, ...len]), body]);
  };
  let filter = tlv(0x87, Buffer.from('cn'));
  for (let i = 1; i < levels; i++) filter = tlv(0xa2, filter);
  const str = (s: string): Buffer => tlv(0x04, Buffer.from(s));
  const search = tlv(0x63, Buffer.concat([str(''), Buffer.from([0x0a, 1, 2, 0x0a, 1, 0, 0x02, 1, 0, 0x02, 1, 0, 0x01, 1, 0]), filter, tlv(0x30, Buffer.alloc(0))]));
  return tlv(0x30, Buffer.concat([Buffer.from([0x02, 1, 42]), search]));
}
