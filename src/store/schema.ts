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
  /** dataTimeToLive in days (migration 008); null: the configured default. */
  data_ttl_days: number | null;
  /** maxMailSize in bytes (migration 008); null: the configured default. */
  max_mail_size: number | null;
  /** Account Manager registration (migration 009): registered / deregistered, NULL: never registered. */
  kim_reg_stat: 'registered' | 'deregistered' | null;
  kim_version: string | null;
  kim_reference_id: string | null;
  /** Unix seconds: deleted after this unless revokeDeregistration. */
  kim_dereg_date: number | null;
  /** JSON of AccountManager.yaml's OutOfOfficeNotification (stored only). */
  kim_out_of_office: string | null;
  /** getOTP's one-time password: SHA-256 hex, and until when (unix seconds) setTID takes it. */
  kim_otp_hash: string | null;
  kim_otp_expires: number | null;
  /** Epoch ms of the last Account Manager change of the registration (migration 011); null: never. */
  kim_changed_at: number | null;
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
  /** The bytes of a small blob; empty for a chunked one. */
  data: Uint8Array;
  created_at: number;
  /** Set for a chunked blob: the `blob_chunks.chunk_id` its chunks are stored under. */
  chunk_id: string | null;
}

/** A database blob being written in chunks, not yet committed (migration 006). */
export interface BlobUploadTable {
  id: string;
  created_at: number;
}

/** One chunk of a large database blob; `seq` counts from 0. */
export interface BlobChunkTable {
  chunk_id: string;
  seq: number;
  data: Uint8Array;
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

/** A mail-in database (mailin/): an address whose mail becomes documents. */
export interface MailinDbTable {
  id: Generated<number>;
  address: string;
  domain: string;
  name: string;
  description: string;
  created_at: number;
}

/** One message filed into a mail-in database: the raw message is the blob, the rest parsed fields. */
export interface MailinDocumentTable {
  id: Generated<number>;
  /** The public id (webhook payload, API): known before the row exists, for before-delivery agents. */
  uid: string;
  db_id: number;
  blob_hash: string;
  size: number;
  received_at: number;
  queue_id: string;
  mail_from: string;
  /** JSON array of the envelope recipients. */
  rcpt_to: string;
  folder: string;
  from_addr: string;
  /** JSON array of addresses. */
  to_addrs: string;
  subject: string;
  date: number | null;
  message_id: string;
  /** JSON object: X-KIM-* header name → value. */
  kim: string;
  text_body: string;
  /** JSON array of {name, type, size, sha256}. */
  attachments: string;
}

export interface MailinAgentTable {
  id: Generated<number>;
  db_id: number;
  name: string;
  trigger: 'before-delivery' | 'after-delivery';
  kind: 'webhook' | 'script';
  url: string | null;
  /** Sealed (store/secret-box.ts): `enc:v1:…`; plain only as written by an older release, until the store's next open. */
  secret: string | null;
  script_path: string | null;
  timeout_ms: number;
  on_failure: 'tempfail' | 'accept';
  include_raw: number;
  created_at: number;
}

/** The durable queue of after-delivery runs; (agent_id, document_id) is unique. */
export interface MailinJobTable {
  id: Generated<number>;
  agent_id: number;
  document_id: number;
  state: 'queued' | 'running' | 'done' | 'dead';
  attempts: number;
  next_run_at: number;
  lease_until: number | null;
  lease_token: string | null;
  last_error: string | null;
  created_at: number;
  updated_at: number;
}

export interface MailinRunTable {
  id: Generated<number>;
  agent_id: number;
  db_id: number;
  document_id: number | null;
  document_uid: string;
  job_id: number | null;
  trigger: string;
  attempt: number;
  started_at: number;
  ended_at: number;
  outcome: string;
  http_status: number | null;
  error: string | null;
}

/** The outbound queue: one row per relayed recipient (service/relay/). */
export interface RelayQueueTable {
  id: Generated<number>;
  /** The accepted message's queue id (the 250 answer, the Received header). */
  queue_id: string;
  blob_hash: string;
  size: number;
  mail_from: string;
  recipient: string;
  domain: string;
  /** Attempts started (raised when leased). */
  attempts: number;
  next_attempt_at: number;
  /** Set while a node sends the row; past it, any node may lease the row again. */
  lease_until: number | null;
  lease_token: string | null;
  /** `<status> <diagnostic-type>; <text>` of the last temporary failure. */
  last_error: string | null;
  /** 1 once the "delayed" DSN was sent. */
  warned: number;
  created_at: number;
  /** RCPT's NOTIFY= (RFC 3461), comma-separated, passed on to the peer; null: none given. */
  notify: string | null;
}

/** One fact about the store (migration 005): e.g. `secret_key_id`. */
export interface StoreMetaTable {
  name: string;
  value: string;
}

/** One message seen by the service (migration 007, service/trace.ts). */
export interface TraceMessageTable {
  queue_id: string;
  received_at: number;
  /** The Message-ID header's value without the angle brackets, lower-cased; null when absent. */
  message_id: string | null;
  mail_from: string;
  rcpt_count: number;
  size: number | null;
  /** 1: a KOM-LE message (application/pkcs7-mime with X-KOM-LE-Version). */
  komle: number;
  listener: string;
  client_ip: string | null;
  /** `<protocol> <cipher>`, null for a plain session. */
  tls: string | null;
  auth_user: string | null;
  /** The latest state: accepted, delivered, queued, relayed, bounced, rejected. */
  status: string;
  node: string;
}

/** A trace's sender ('from') and recipients ('to'), lower-cased, for lookup by address. */
export interface TraceAddressTable {
  address: string;
  queue_id: string;
  received_at: number;
  role: string;
}

/** One thing that happened to a traced message. */
export interface TraceEventTable {
  id: Generated<number>;
  queue_id: string;
  at: number;
  kind: string;
  node: string;
  /** The mailbox row ("delivered"), so a POP3 fetch or expunge finds its message. */
  mailbox_message_id: number | null;
  /** JSON object: the event's facts (never a body, a Subject or a password). */
  detail: string;
}

/** Accepted Account Manager JWTs until they expire (replay protection, migration 009). */
export interface KimJwtSeenTable {
  token_id: string;
  expires_at: number;
}

/** When an account's out-of-office note last answered a sender (unix ms). */
export interface KimAutoreplyTable {
  account_id: number;
  sender: string;
  sent_at: number;
}

export interface Database {
  domains: DomainTable;
  accounts: AccountTable;
  messages: MessageTable;
  blobs: BlobTable;
  blob_uploads: BlobUploadTable;
  blob_chunks: BlobChunkTable;
  dir_entries: DirEntryTable;
  dir_values: DirValueTable;
  dir_state: DirStateTable;
  mailin_dbs: MailinDbTable;
  mailin_documents: MailinDocumentTable;
  mailin_agents: MailinAgentTable;
  mailin_jobs: MailinJobTable;
  mailin_runs: MailinRunTable;
  relay_queue: RelayQueueTable;
  store_meta: StoreMetaTable;
  trace_messages: TraceMessageTable;
  trace_addresses: TraceAddressTable;
  trace_events: TraceEventTable;
  kim_jwt_seen: KimJwtSeenTable;
  kim_autoreplies: KimAutoreplyTable;
}

export type DomainRow = Selectable<DomainTable>;
export type AccountRow = Selectable<AccountTable>;
export type MessageRow = Selectable<MessageTable>;
export type DirEntryRow = Selectable<DirEntryTable>;
