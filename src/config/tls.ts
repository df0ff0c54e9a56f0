import { z } from 'zod';
import { DEFAULT_CIPHERS_12, DEFAULT_ECDH_CURVES, tlsProfileProblems } from '../core/tls-profile.js';
import { DEFAULT_TLS_RESUMPTION as R } from '../core/tls-resumption.js';
import { duration } from './fields.js';

/**
 * `tls:` — the certificates every listener presents and the TLS profile of every listener and
 * client (src/core/tls-profile.ts, docs/mail-service.md "TLS"). The curves and suites are
 * checked here against this OpenSSL, so a typo stops the start instead of failing every
 * handshake (Node would only throw when the first listener builds its context).
 */
export const tlsSchema = z
  .object({
    /** PEM files. With none configured a self-signed pair is generated into dataDir/tls. RSA or ECC (P-256, P-384, brainpoolP256r1, brainpoolP384r1). */
    cert: z.string().optional(),
    key: z.string().optional(),
    /** A second, ECC pair beside an RSA `cert`/`key`: clients that can take ECC get it, the others RSA (A_17239). */
    eccCert: z.string().optional(),
    eccKey: z.string().optional(),
    /** ECDHE curves (OpenSSL group names) in order of preference; never `auto`, which has no brainpool. */
    ecdhCurves: z.array(z.string().min(1)).default([...DEFAULT_ECDH_CURVES]),
    /** TLS 1.2 cipher suites (OpenSSL names), a subset of BSI TR-02102-2's; TLS 1.3 uses AES-GCM. */
    ciphers12: z.array(z.string().min(1)).default([...DEFAULT_CIPHERS_12]),
    /** Session resumption on every TLS listener (src/core/tls-resumption.ts): a returning client skips the key exchange. */
    resumption: z
      .object({
        /** Session tickets (RFC 5077; TLS 1.3 tickets); false: none are issued. */
        tickets: z.boolean().default(R.tickets),
        /** Each listener's ticket key is replaced this often; a ticket under the previous key gets a full handshake. */
        ticketKeyRotationMs: duration.min(60_000).default(R.ticketKeyRotationMs),
        /** How long a session may be resumed (at most RFC 8446's 7 days). */
        sessionLifetimeMs: duration.min(1000).max(7 * 24 * 3_600_000).default(R.sessionLifetimeMs),
        /** Sessions cached per listener for TLS 1.2 clients without tickets, oldest dropped first; 0: no cache. */
        sessionCacheEntries: z.number().int().min(0).default(R.sessionCacheEntries),
      })
      .strict()
      .prefault({}),
    /**
     * TLS 1.3 on a listener whose only certificate is brainpool (RFC 8734 signatures; OpenSSL 3.2+,
     * i.e. Node 22/24). Off: such a listener serves TLS 1.2 at most, because a client offering 1.3
     * without RFC 8734 (OpenSSL 3.0, most TI clients) would be refused instead of served in 1.2.
     */
    brainpoolTls13: z.boolean().default(false),
  })
  .strict()
  .superRefine((tls, ctx) => {
    for (const p of tlsProfileProblems(tls)) ctx.addIssue({ code: 'custom', path: p.index === undefined ? [p.key] : [p.key, p.index], message: p.message });
    if ((tls.eccCert === undefined) !== (tls.eccKey === undefined)) ctx.addIssue({ code: 'custom', path: [tls.eccCert === undefined ? 'eccCert' : 'eccKey'], message: 'set both tls.eccCert and tls.eccKey, or neither' });
    if (tls.eccCert !== undefined && tls.cert === undefined) ctx.addIssue({ code: 'custom', path: ['eccCert'], message: 'tls.eccCert goes beside an RSA tls.cert; an ECC certificate alone is tls.cert' });
  });
