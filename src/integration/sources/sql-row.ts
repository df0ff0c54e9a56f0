import type { IntegrationUser } from '../types.js';

/** A list-query row as an IntegrationUser; column names in any case (PostgreSQL folds unquoted ones). */
export function userFromRow(row: Record<string, unknown>): IntegrationUser {
  let userName: unknown;
  const u: Omit<IntegrationUser, 'userName'> = {};
  for (const [k, v] of Object.entries(row)) {
    switch (k.toLowerCase()) {
      case 'username':
        userName = v;
        break;
      case 'fullname':
        if (v !== null && v !== undefined && v !== '') u.fullName = String(v);
        break;
      case 'distinguishedname':
        if (v !== null && v !== undefined && v !== '') u.distinguishedName = String(v);
        break;
      case 'emailaddresses': {
        const list = emailList(v);
        if (list.length) u.emailAddresses = list;
        break;
      }
    }
  }
  // A row without a user name is a broken query; listing on would hand the archive a list
  // with users missing, and an archive that deletes vanished users would act on it.
  if (userName === null || userName === undefined || String(userName) === '') throw new Error('the list query returned a row without userName');
  return { userName: String(userName), ...u };
}

function emailList(v: unknown): string[] {
  if (v === null || v === undefined) return [];
  if (Array.isArray(v)) return v.map(String).filter((s) => s.length > 0);
  const s = String(v).trim();
  if (s.startsWith('[')) {
    try {
      const parsed = JSON.parse(s) as unknown;
      if (Array.isArray(parsed)) return parsed.map(String).filter((x) => x.length > 0);
    } catch {
      // not JSON after all: split below
    }
  }
  return s.split(/[\s;,]+/).filter((x) => x.length > 0);
}

/** Whether an auth query's answer means "right password". */
export function truthy(v: unknown): boolean {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number' || typeof v === 'bigint') return Number(v) !== 0;
  if (typeof v === 'string') return ['1', 't', 'true', 'yes', 'y'].includes(v.trim().toLowerCase());
  return false;
}
