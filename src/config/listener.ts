import { z } from 'zod';
import { host, port } from './fields.js';

/** One listening socket: `{ enabled, host, port }`, on loopback unless configured otherwise. */
export const listener = (defPort: number) =>
  z
    .object({
      enabled: z.boolean().default(true),
      host: host.default('127.0.0.1'),
      port: port.default(defPort),
    })
    .strict();

/**
 * A protocol's pair of listeners, each named by its TLS mode (the words of
 * `'none' | 'starttls' | 'implicit'`): `starttls` in clear with STARTTLS/STLS/StartTLS offered,
 * `implicit` with TLS from the first byte.
 */
export const tlsListeners = (ports: { starttls: number; implicit: number }) => ({
  starttls: listener(ports.starttls).prefault({}),
  implicit: listener(ports.implicit).prefault({}),
});
