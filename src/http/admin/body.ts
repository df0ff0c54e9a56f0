import type { z } from 'zod';
import { UsageError } from '../../core/index.js';

/** A request body checked against `schema`; a mismatch is a UsageError (400 problem JSON) naming the first field at fault. */
export function parseBody<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  const r = schema.safeParse(body ?? {});
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const where = issue.path.length ? `${issue.path.join('.')}: ` : '';
  throw new UsageError(`${where}${issue.message}`);
}
