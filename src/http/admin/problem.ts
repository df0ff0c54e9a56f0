import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { PostamtError } from '../../core/index.js';

/** HTTP status of a PostamtError by its code, for the admin routes; anything else is a 400. */
export const ADMIN_ERROR_STATUS: Readonly<Record<string, number>> = { usage: 400, 'not-found': 404, conflict: 409 };

/**
 * An admin plugin's error handler: errors become problem JSON (RFC 9457). A PostamtError's code
 * picks the status; fastify's own client errors keep theirs; everything else is a 500 whose
 * message is not shown.
 */
export function problemErrorHandler(statusByCode: Readonly<Record<string, number>> = ADMIN_ERROR_STATUS) {
  return (err: FastifyError | (Error & { statusCode?: number }), _req: FastifyRequest, reply: FastifyReply): void => {
    const status = err instanceof PostamtError ? (statusByCode[err.code] ?? 400) : err.statusCode && err.statusCode < 500 ? err.statusCode : 500;
    void reply
      .status(status)
      .type('application/problem+json')
      .send({ type: 'about:blank', title: status >= 500 ? 'Internal Server Error' : err.message, status });
  };
}
