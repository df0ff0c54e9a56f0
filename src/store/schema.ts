import type { Generated, Selectable } from 'kysely';

/**
 * The tables as Kysely sees them. Times are epoch milliseconds (bigint in PostgreSQL, parsed
 * back to number), flags are 0/1 integers: the same representation on SQLite and PostgreSQL.
 */
export interface DomainTable {
  name: string;
  created_at: number;
}

export interface AccountTable {
  id: Generated<number>;
  address: string;
  domain: string;
  display_name: string;
  telematik_id: string | null;
  password_hash: string;
  /** Bytes; 0 means no quota. */
  quota_bytes: number;
  used_bytes: number;
  disabled: number;
  created_at: number;
}

export interface MessageTable {
  id: Generated<number>;
  account_id: number;
  blob_hash: string;
  size: number;
  received_at: number;
}

export interface BlobTable {
  hash: string;
  size: number;
  data: Uint8Array;
  created_at: number;
}

export interface Database {
  domains: DomainTable;
  accounts: AccountTable;
  messages: MessageTable;
  blobs: BlobTable;
}

export type DomainRow = Selectable<DomainTable>;
export type AccountRow = Selectable<AccountTable>;
export type MessageRow = Selectable<MessageTable>;
