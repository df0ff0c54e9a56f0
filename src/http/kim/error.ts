import type { FastifyReply } from 'fastify';
import { randomHex } from '../../core/index.js';

/** The media type every answer of gematik's KIM interfaces carries (CommonSchemas.yaml). */
export const KIM_JSON = 'application/json; charset=utf-8';

/**
 * An error as CommonSchemas.yaml's `Error` body: `message` and a `traceId` (at most 255
 * characters) that names this answer in the service's log line, so a practice reporting a
 * failure can be matched to what the service saw without any secret in the answer.
 */
export function kimError(reply: FastifyReply, status: number, message: string): { traceId: string; sent: FastifyReply } {
  const traceId = randomHex(8);
  return { traceId, sent: reply.status(status).type(KIM_JSON).send({ message, traceId }) };
}
