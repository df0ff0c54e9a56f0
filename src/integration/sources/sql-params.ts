/**
 * Queries in the configuration name their parameters `:user` and `:password`, the same for
 * both databases. This rewrites them to the placeholders of the dialect (`?` for SQLite,
 * `$n` for PostgreSQL) and says which value goes where. Quoted strings and identifiers are
 * left alone, and so is PostgreSQL's `::type` cast.
 */
export type SqlParam = 'user' | 'password';

export function bindParams(query: string, dialect: 'sqlite' | 'postgres'): { text: string; order: SqlParam[] } {
  const order: SqlParam[] = [];
  let out = '';
  let i = 0;
  while (i < query.length) {
    const c = query[i]!;
    if (c === "'" || c === '"') {
      const end = query.indexOf(c, i + 1);
      const stop = end < 0 ? query.length : end + 1;
      out += query.slice(i, stop);
      i = stop;
      continue;
    }
    if (c === ':' && query[i - 1] !== ':' && query[i + 1] !== ':') {
      const m = /^:(user|password)(?![A-Za-z0-9_])/.exec(query.slice(i));
      if (m) {
        const p = m[1] as SqlParam;
        if (dialect === 'sqlite') {
          order.push(p);
          out += '?';
        } else {
          let n = order.indexOf(p);
          if (n < 0) n = order.push(p) - 1;
          out += `$${n + 1}`;
        }
        i += m[0].length;
        continue;
      }
    }
    out += c;
    i++;
  }
  return { text: out, order };
}

export function paramValues(order: SqlParam[], values: Record<SqlParam, string>): string[] {
  return order.map((p) => values[p]);
}
