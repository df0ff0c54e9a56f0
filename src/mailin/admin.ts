import type { Kysely } from 'kysely';
import type { BlobStore, Database, SecretBox } from '../store/index.js';
import type { MailinConfig } from '../config/index.js';
import { ConflictError, NotFoundError, UsageError, type HostPort } from '../core/index.js';
import { parseAddress, deleteUnreferencedBlobs } from '../service/index.js';
import { checkAgentInput, type AgentInput } from './agent-config.js';
import { sealSecret, showAgent, showDb, showDocument, showJob, showRun, toAgent, toDb } from './rows.js';
import type { Agent, MailinDb } from './types.js';

/** What mail-in management needs to know about the service's accounts and domains. */
export interface AddressBook {
  isLocalDomain(domain: string): Promise<boolean>;
  find(address: string): Promise<unknown>;
}

export interface Page<T> {
  items: T[];
  /** Pass as `after` for the next page; null on the last one. */
  next: string | null;
}

const MAX_PAGE = 500;

function pageSize(limit: number | undefined, def = 100): number {
  if (limit === undefined) return def;
  if (!Number.isInteger(limit) || limit < 1) throw new UsageError('limit must be a positive whole number');
  return Math.min(limit, MAX_PAGE);
}

/** A time given as ISO 8601 or epoch milliseconds. */
export function parseSince(since: string | undefined): number | undefined {
  if (since === undefined || since === '') return undefined;
  const n = /^\d+$/.test(since) ? Number(since) : Date.parse(since);
  if (!Number.isFinite(n)) throw new UsageError(`"${since}" is not a time (use ISO 8601, e.g. 2025-01-31T12:00:00Z, or epoch milliseconds)`);
  return n;
}

function cursor(after: string | undefined): number | undefined {
  if (after === undefined || after === '') return undefined;
  if (!/^\d{1,15}$/.test(after)) throw new UsageError('after must be the `next` value of the previous page');
  return Number(after);
}

/**
 * Managing mail-in databases and agents, and reading documents, jobs and runs: one class the
 * CLI and the admin API share, so both refuse the same things with the same words.
 */
export class MailinAdmin {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly blobs: BlobStore,
    /** Webhook secrets are sealed with it before they are written. */
    private readonly secrets: SecretBox,
    private readonly addresses: AddressBook,
    private readonly config: MailinConfig,
    /** This platform's listeners, never a webhook's target (filled in by the role as they start). */
    private readonly ownListeners: readonly HostPort[] = [],
  ) {}

  // ---- databases ----

  async addDatabase(input: { address: string; name: string; description?: string }): Promise<Record<string, unknown>> {
    const parsed = parseAddress(input.address ?? '');
    if (!parsed) throw new UsageError(`"${String(input.address)}" is not a valid mail address`);
    if (!input.name || typeof input.name !== 'string' || input.name.length > 200) throw new UsageError('a mail-in database needs --name (at most 200 characters)');
    const description = input.description ?? '';
    if (typeof description !== 'string' || description.length > 2000) throw new UsageError('the description may have at most 2000 characters');
    if (!(await this.addresses.isLocalDomain(parsed.domain))) throw new UsageError(`domain ${parsed.domain} is not a local domain; mail-in addresses must be in one (postamt domain add)`);
    if (await this.addresses.find(parsed.address)) throw new ConflictError(`${parsed.address} is an account's address`);
    if (await this.findDb(parsed.address)) throw new ConflictError(`mail-in database ${parsed.address} exists already`);
    const row = await this.db
      .insertInto('mailin_dbs')
      .values({ address: parsed.address, domain: parsed.domain, name: input.name, description, created_at: Date.now() })
      .returningAll()
      .executeTakeFirstOrThrow();
    return showDb(toDb(row));
  }

  async listDatabases(): Promise<Array<Record<string, unknown>>> {
    const rows = await this.db.selectFrom('mailin_dbs').selectAll().orderBy('address').execute();
    return rows.map((r) => showDb(toDb(r)));
  }

  async findDb(address: string): Promise<MailinDb | undefined> {
    const parsed = parseAddress(address);
    if (!parsed) return undefined;
    const row = await this.db.selectFrom('mailin_dbs').selectAll().where('address', '=', parsed.address).executeTakeFirst();
    return row ? toDb(row) : undefined;
  }

  async getDb(address: string): Promise<MailinDb> {
    const d = await this.findDb(address);
    if (!d) throw new NotFoundError(`mail-in database ${address} does not exist`);
    return d;
  }

  /** Removes the database with its documents, agents, jobs and runs; then the blobs nothing else uses. */
  async removeDatabase(address: string): Promise<{ documents: number }> {
    const d = await this.getDb(address);
    const hashes = await this.db.transaction().execute(async (trx) => {
      const docs = await trx.deleteFrom('mailin_documents').where('db_id', '=', d.id).returning('blob_hash').execute();
      await trx.deleteFrom('mailin_dbs').where('id', '=', d.id).execute();
      return docs.map((r) => r.blob_hash);
    });
    await deleteUnreferencedBlobs(this.db, this.blobs, [...new Set(hashes)]);
    return { documents: hashes.length };
  }

  // ---- agents ----

  async addAgent(address: string, input: AgentInput, cwd?: string): Promise<Record<string, unknown>> {
    const d = await this.getDb(address);
    const a = await checkAgentInput(input, this.config, cwd, this.ownListeners);
    if (a.trigger === 'before-delivery') {
      const existing = await this.db.selectFrom('mailin_agents').select('id').where('db_id', '=', d.id).where('trigger', '=', 'before-delivery').executeTakeFirst();
      if (existing) throw new ConflictError(`${d.address} has a before-delivery agent already (#${existing.id}); a database has at most one — remove it first`);
    }
    const row = await this.db
      .insertInto('mailin_agents')
      .values({
        db_id: d.id,
        name: a.name,
        trigger: a.trigger,
        kind: a.kind,
        url: a.url,
        secret: sealSecret(a.secret, this.secrets),
        script_path: a.scriptPath,
        timeout_ms: a.timeoutMs,
        on_failure: a.onFailure,
        include_raw: a.includeRaw ? 1 : 0,
        created_at: Date.now(),
      })
      .returningAll()
      .executeTakeFirstOrThrow()
      .catch((err: Error) => {
        // Two concurrent adds: the partial unique index is the last word.
        if (/unique|duplicate/i.test(err.message)) throw new ConflictError(`${d.address} has a before-delivery agent already; a database has at most one`);
        throw err;
      });
    return showAgent(toAgent(row, this.secrets), d.address);
  }

  async listAgents(address?: string): Promise<Array<Record<string, unknown>>> {
    let q = this.db.selectFrom('mailin_agents').innerJoin('mailin_dbs', 'mailin_dbs.id', 'mailin_agents.db_id').selectAll('mailin_agents').select('mailin_dbs.address');
    if (address !== undefined) q = q.where('mailin_agents.db_id', '=', (await this.getDb(address)).id);
    const rows = await q.orderBy('mailin_agents.id').execute();
    return rows.map((r) => showAgent(toAgent(r, this.secrets), r.address));
  }

  async getAgent(id: number): Promise<Agent> {
    const row = await this.db.selectFrom('mailin_agents').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) throw new NotFoundError(`agent #${id} does not exist`);
    return toAgent(row, this.secrets);
  }

  async removeAgent(id: number): Promise<void> {
    const res = await this.db.deleteFrom('mailin_agents').where('id', '=', id).executeTakeFirst();
    if (Number(res.numDeletedRows) === 0) throw new NotFoundError(`agent #${id} does not exist`);
  }

  // ---- documents ----

  /** Documents oldest first, received at or after `since`, a page at a time (cursor: row id). */
  async documents(address: string, q: { since?: string; after?: string; limit?: number } = {}): Promise<Page<Record<string, unknown>>> {
    const d = await this.getDb(address);
    const since = parseSince(q.since);
    const after = cursor(q.after);
    const limit = pageSize(q.limit);
    let sel = this.db.selectFrom('mailin_documents').selectAll().where('db_id', '=', d.id);
    if (since !== undefined) sel = sel.where('received_at', '>=', since);
    if (after !== undefined) sel = sel.where('id', '>', after);
    const rows = await sel.orderBy('id').limit(limit + 1).execute();
    const more = rows.length > limit;
    const page = rows.slice(0, limit);
    return { items: page.map((r) => showDocument(r, d.address)), next: more ? String(page[page.length - 1]!.id) : null };
  }

  async document(address: string, uid: string): Promise<{ doc: Record<string, unknown>; raw(): Promise<Buffer> }> {
    const d = await this.getDb(address);
    const row = await this.db.selectFrom('mailin_documents').selectAll().where('db_id', '=', d.id).where('uid', '=', uid).executeTakeFirst();
    if (!row) throw new NotFoundError(`document ${uid} is not in ${d.address}`);
    return { doc: showDocument(row, d.address), raw: () => this.blobs.get(row.blob_hash, row.size) };
  }

  // ---- jobs and runs ----

  async jobs(q: { state?: string; address?: string; limit?: number } = {}): Promise<Array<Record<string, unknown>>> {
    if (q.state !== undefined && !['queued', 'running', 'done', 'dead'].includes(q.state)) throw new UsageError('state must be queued, running, done or dead');
    let sel = this.db
      .selectFrom('mailin_jobs')
      .innerJoin('mailin_documents', 'mailin_documents.id', 'mailin_jobs.document_id')
      .innerJoin('mailin_dbs', 'mailin_dbs.id', 'mailin_documents.db_id')
      .selectAll('mailin_jobs')
      .select(['mailin_documents.uid', 'mailin_dbs.address']);
    if (q.state !== undefined) sel = sel.where('mailin_jobs.state', '=', q.state as 'queued');
    else sel = sel.where('mailin_jobs.state', '!=', 'done');
    if (q.address !== undefined) sel = sel.where('mailin_dbs.id', '=', (await this.getDb(q.address)).id);
    const rows = await sel.orderBy('mailin_jobs.id', 'desc').limit(pageSize(q.limit)).execute();
    return rows.map(showJob);
  }

  /** Runs a dead (or waiting) job again now, with a fresh series of attempts. */
  async retryJob(id: number): Promise<void> {
    const job = await this.db.selectFrom('mailin_jobs').select(['state']).where('id', '=', id).executeTakeFirst();
    if (!job) throw new NotFoundError(`job #${id} does not exist`);
    if (job.state === 'done') throw new ConflictError(`job #${id} has succeeded already; it is not run again`);
    if (job.state === 'running') throw new ConflictError(`job #${id} is running now`);
    const now = Date.now();
    await this.db
      .updateTable('mailin_jobs')
      .set({ state: 'queued', attempts: 0, next_run_at: now, lease_until: null, lease_token: null, updated_at: now })
      .where('id', '=', id)
      .where('state', 'in', ['dead', 'queued'])
      .execute();
  }

  async runs(q: { address?: string; agent?: number; after?: string; limit?: number } = {}): Promise<Page<Record<string, unknown>>> {
    let sel = this.db.selectFrom('mailin_runs').innerJoin('mailin_dbs', 'mailin_dbs.id', 'mailin_runs.db_id').selectAll('mailin_runs').select('mailin_dbs.address');
    if (q.address !== undefined) sel = sel.where('mailin_runs.db_id', '=', (await this.getDb(q.address)).id);
    if (q.agent !== undefined) sel = sel.where('mailin_runs.agent_id', '=', q.agent);
    const after = cursor(q.after);
    if (after !== undefined) sel = sel.where('mailin_runs.id', '<', after);
    const limit = pageSize(q.limit);
    // Newest first: the question is usually "what happened just now".
    const rows = await sel.orderBy('mailin_runs.id', 'desc').limit(limit + 1).execute();
    const more = rows.length > limit;
    const page = rows.slice(0, limit);
    return { items: page.map(showRun), next: more ? String(page[page.length - 1]!.id) : null };
  }
}
