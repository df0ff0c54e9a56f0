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

/** One VZD entry (directory/): attributes as JSON, certificates as concatenated DER. */
export interface DirEntryTable {
  id: Generated<number>;
  uid: string;
  uid_norm: string;
  telematik_id: string;
  telematik_norm: string;
  /** JSON object: canonical attribute name → string values. */
  attrs: string;
  certs: Uint8Array;
  entry_uuid: string;
  created_at: number;
  modified_at: number;
}

/** The normalised values of the indexed attributes, for equality and prefix lookups. */
export interface DirValueTable {
  entry_id: number;
  attr: string;
  norm: string;
}

/** A single row (id 1) whose version rises with every directory change. */
export interface DirStateTable {
  id: number;
  version: number;
}

export interface Database {
  domains: DomainTable;
  accounts: AccountTable;
  messages: MessageTable;
  blobs: BlobTable;
  dir_entries: DirEntryTable;
  dir_values: DirValueTable;
  dir_state: DirStateTable;
}

export type DomainRow = Selectable<DomainTable>;
export type AccountRow = Selectable<AccountTable>;
export type MessageRow = Selectable<MessageTable>;
export type DirEntryRow = Selectable<DirEntryTable>;
