import type { DirEntryRow, Dialect } from '../store/index.js';
import type { IndexTerm } from './plan.js';
import { ENTRY_COLUMNS_E, run, type Executor } from './repo.js';

/**
 * The search's SQL: candidate ids of a planned index term (plan.ts) and the equality lookup that
 * fetches ids and rows together. Like repo.ts, statements with `?` placeholders for both dialects.
 */

/** SQL (with `?` placeholders) selecting the candidate entry ids of a term, possibly with duplicates. */
export function termSql(t: Exclude<IndexTerm, { op: 'none' }>): { text: string; params: unknown[]; distinct: boolean } {
  switch (t.op) {
    case 'eq':
      return { text: 'select entry_id from dir_values where attr = ? and norm = ?', params: [t.attr, t.key], distinct: true };
    case 'prefix':
      return t.hi === undefined
        ? { text: 'select entry_id from dir_values where attr = ? and norm >= ?', params: [t.attr, t.lo], distinct: false }
        : { text: 'select entry_id from dir_values where attr = ? and norm >= ? and norm < ?', params: [t.attr, t.lo, t.hi], distinct: false };
    case 'and':
    case 'or': {
      const live = t.parts.filter((p): p is Exclude<IndexTerm, { op: 'none' }> => p.op !== 'none');
      // SQLite has no parenthesised compound selects: a nested compound becomes a subquery.
      const parts = live.map((p, k) => {
        const q = termSql(p);
        return p.op === 'and' || p.op === 'or' ? { ...q, text: `select entry_id from (${q.text}) as c${k}` } : q;
      });
      const op = t.op === 'and' ? ' intersect ' : ' union ';
      return { text: parts.map((p) => p.text).join(op), params: parts.flatMap((p) => p.params), distinct: true };
    }
  }
}

/** The batch query of candidate ids after a position (`?` last), in id order: what the search runs. */
export function candidateSql(t: Exclude<IndexTerm, { op: 'none' }>, batch: number): { text: string; params: unknown[] } {
  const q = termSql(t);
  return { text: `select ${q.distinct ? '' : 'distinct '}entry_id from (${q.text}) as cand where entry_id > ? order by entry_id limit ${batch}`, params: q.params };
}

/** One batch of candidate ids of a candidateSql query after `afterId`, ascending. */
export async function candidateIds(ex: Executor, dialect: Dialect, q: { text: string; params: unknown[] }, afterId: number): Promise<number[]> {
  const rows = await run<{ entry_id: number }>(ex, dialect, q.text, [...q.params, afterId]);
  return rows.map((r) => Number(r.entry_id));
}

/** One batch of the rows of the entries with one equality key, in id order after `afterId` (ids and rows in one query). */
export function entryRowsWithKey(ex: Executor, dialect: Dialect, attr: string, key: string, afterId: number, limit: number): Promise<DirEntryRow[]> {
  return run<DirEntryRow>(
    ex,
    dialect,
    `select ${ENTRY_COLUMNS_E} from dir_values v join dir_entries e on e.id = v.entry_id where v.attr = ? and v.norm = ? and v.entry_id > ? order by v.entry_id limit ${limit}`,
    [attr, key, afterId],
  );
}
