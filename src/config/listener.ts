import { z } from 'zod';
import { addressOrNetwork, duration, host, port } from './fields.js';

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

/**
 * Postscreen's pregreet test on an SMTP listener: a client not seen recently waits `delayMs`
 * for the greeting, and one that talks before it is refused (554 5.5.1) and closed. Off by
 * default: every client waits, for nothing, as long as the delay, and a connection per message
 * pays it every time. Loopback clients and `exempt` networks never wait.
 */
export const greetingDelaySchema = z
  .object({
    /** How long a new client waits for the 220; 0: the greeting goes at once (postscreen_greet_wait is 6 s). */
    delayMs: duration.max(60_000).default(0),
    /** A client that waited without talking is not delayed again for this long (postscreen_greet_ttl). */
    rememberMs: duration.default(24 * 3_600_000),
    /** Client addresses remembered at most, the oldest forgotten first. */
    maxRemembered: z.number().int().min(0).default(100_000),
    /** Addresses or networks never delayed (the client module's, a relay host of one's own). */
    exempt: z.array(addressOrNetwork).default([]),
  })
  .strict();

/** An SMTP listener: `{ enabled, host, port, greetingDelay }`. */
export const smtpListener = (defPort: number) => listener(defPort).extend({ greetingDelay: greetingDelaySchema.prefault({}) });
