import type { Kysely, Migration, MigrationProvider } from 'kysely';
import type { Dialect } from '../dialect.js';
import * as m001 from './001_core.js';
import * as m002 from './002_directory.js';
import * as m003 from './003_mailin.js';
import * as m004 from './004_relay.js';
import * as m005 from './005_store_meta.js';
import * as m006 from './006_blob_chunks.js';
import * as m007 from './007_trace.js';
import * as m008 from './008_account_limits.js';
import * as m009 from './009_kim_account_manager.js';
import * as m010 from './010_mail_rules.js';
import * as m011 from './011_kim_changed_at.js';

interface DialectMigration {
  up(db: Kysely<unknown>, dialect: Dialect): Promise<void>;
}

/**
 * The versioned migrations, in order. Names sort lexically; never rename or edit one that
 * has shipped — add a new one.
 */
const MIGRATIONS: Record<string, DialectMigration> = {
  '001_core': m001,
  '002_directory': m002,
  '003_mailin': m003,
  '004_relay': m004,
  '005_store_meta': m005,
  '006_blob_chunks': m006,
  '007_trace': m007,
  '008_account_limits': m008,
  '009_kim_account_manager': m009,
  '010_mail_rules': m010,
  '011_kim_changed_at': m011,
};

/** The migrations this release knows, in order: a store that ran one not among them is newer than this node. */
export const MIGRATION_NAMES: readonly string[] = Object.keys(MIGRATIONS).sort();

export function migrationProvider(dialect: Dialect): MigrationProvider {
  return {
    async getMigrations(): Promise<Record<string, Migration>> {
      const out: Record<string, Migration> = {};
      for (const [name, m] of Object.entries(MIGRATIONS)) out[name] = { up: (db) => m.up(db, dialect) };
      return out;
    },
  };
}
