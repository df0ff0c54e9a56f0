import { stat, readFile } from 'node:fs/promises';
import type { IntegrationUser, UserSource } from '../types.js';
import { parseCsv, CsvSyntaxError } from '../csv.js';
import { verifyHash } from '../hashes/verify.js';
import { burnHashCheck } from '../burn.js';

/** The columns a user file may have; the header line names them (any order, any case). */
export const FILE_COLUMNS = ['userName', 'password', 'fullName', 'emailAddresses', 'distinguishedName'] as const;

interface FileUser extends IntegrationUser {
  passwordHash?: string;
}

interface Loaded {
  key: string;
  users: FileUser[];
  byName: Map<string, FileUser>;
  problems: string[];
}

/** Several addresses in one field: separated by spaces, `;` or `,`. */
function addresses(field: string): string[] {
  return field.split(/[\s;,]+/).filter((a) => a.length > 0);
}

/**
 * Users from a CSV/text file. The first record names the columns (FILE_COLUMNS; userName is
 * required); `password` holds a hash in any recognised format, never clear text. The file is
 * re-read when its modification time, size or inode change (checked with one stat per call,
 * so an editor's rename-and-replace is seen too); between changes it is served from memory.
 * Bad lines are skipped and reported in `problems`; a file without a userName column, or one
 * that cannot be read, makes the source fail (never an empty or partial list).
 */
export class FileSource implements UserSource {
  readonly type = 'file';
  private loaded: Loaded | undefined;
  private loading: Promise<Loaded> | undefined;

  constructor(
    readonly name: string,
    readonly priority: number,
    private readonly path: string,
    private readonly delimiter = ',',
    private readonly maxBytes = 64 * 1024 * 1024,
  ) {}

  /** Lines skipped at the last load, with the reason. */
  get problems(): readonly string[] {
    return this.loaded?.problems ?? [];
  }

  private async current(): Promise<Loaded> {
    const st = await stat(this.path);
    const key = `${st.ino}:${st.size}:${st.mtimeMs}`;
    if (this.loaded?.key === key) return this.loaded;
    if (st.size > this.maxBytes) throw new Error(`${this.path} has ${st.size} bytes, more than maxBytes (${this.maxBytes})`);
    // Concurrent callers share one read.
    this.loading ??= this.load(key).finally(() => (this.loading = undefined));
    this.loaded = await this.loading;
    return this.loaded;
  }

  private async load(key: string): Promise<Loaded> {
    const text = await readFile(this.path, 'utf8');
    const users: FileUser[] = [];
    const byName = new Map<string, FileUser>();
    const problems: string[] = [];
    let columns: Array<(typeof FILE_COLUMNS)[number] | undefined> | undefined;
    try {
      for (const rec of parseCsv(text, this.delimiter)) {
        if (!columns) {
          columns = rec.fields.map((f) => FILE_COLUMNS.find((c) => c.toLowerCase() === f.trim().toLowerCase()));
          const unknown = rec.fields.filter((_f, i) => columns![i] === undefined);
          if (unknown.length) problems.push(`line ${rec.line}: unknown column(s) ignored: ${unknown.join(', ')}`);
          if (!columns.includes('userName')) throw new Error(`${this.path}: the first line must name the columns, one of them userName (have: ${rec.fields.join(this.delimiter)})`);
          continue;
        }
        if (rec.fields.length !== columns.length) {
          problems.push(`line ${rec.line}: ${rec.fields.length} fields, the header has ${columns.length}`);
          continue;
        }
        const u: FileUser = { userName: '' };
        rec.fields.forEach((raw, i) => {
          const v = raw.trim();
          switch (columns![i]) {
            case 'userName':
              u.userName = v;
              break;
            case 'password':
              if (v) u.passwordHash = v;
              break;
            case 'fullName':
              if (v) u.fullName = v;
              break;
            case 'distinguishedName':
              if (v) u.distinguishedName = v;
              break;
            case 'emailAddresses':
              if (v) u.emailAddresses = addresses(v);
              break;
          }
        });
        if (!u.userName) {
          problems.push(`line ${rec.line}: empty userName`);
          continue;
        }
        const k = u.userName.toLowerCase();
        if (byName.has(k)) {
          problems.push(`line ${rec.line}: ${u.userName} listed twice; the first one counts`);
          continue;
        }
        byName.set(k, u);
        users.push(u);
      }
    } catch (err) {
      if (err instanceof CsvSyntaxError) throw new Error(`${this.path}: ${err.message}`);
      throw err;
    }
    if (!columns) throw new Error(`${this.path} is empty: the first line must name the columns`);
    return { key, users, byName, problems };
  }

  async *list(signal?: AbortSignal): AsyncIterable<IntegrationUser> {
    const { users } = await this.current();
    for (const u of users) {
      signal?.throwIfAborted();
      const { passwordHash: _hidden, ...visible } = u;
      yield visible;
    }
  }

  async authenticate(user: string, password: string): Promise<boolean | null> {
    const u = (await this.current()).byName.get(user.toLowerCase());
    if (!u) return null;
    if (!u.passwordHash) {
      await burnHashCheck(password);
      return false;
    }
    return verifyHash(password, u.passwordHash);
  }
}
