import type { Dialect } from '../dialect.js';

/** The column types that differ between the dialects, for migrations written as SQL text. */
export function columnTypes(dialect: Dialect): { id: string; big: string } {
  const pg = dialect === 'postgres';
  return { id: pg ? 'bigserial primary key' : 'integer primary key autoincrement', big: pg ? 'bigint' : 'integer' };
}
