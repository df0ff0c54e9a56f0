import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { KonnektorConfig } from '../../config/index.js';
import { cardLoaderFromFiles, readCertificateFile } from './card-files.js';
import { KonnektorError } from './errors.js';
import { SoftwareKonnektor } from './software.js';
import { SoapKonnektor } from './soap/soap-konnektor.js';
import { RoutingKonnektor } from './routing.js';
import type { Konnektor } from './types.js';
import type { Logger } from '../../core/logger.js';

/**
 * The Konnektor the configuration asks for: `software` (key files) or `soap` (a real Konnektor;
 * its service directory is read by `ready()`, which the role awaits). Files named in the
 * configuration (trust anchors, the Konnektor's CA, the client PKCS#12) are read now, so a wrong
 * path fails at start; card files are read at first use.
 */
export function createKonnektor(config: KonnektorConfig, dataDir: string, logger?: Logger): Konnektor {
  const read = (key: string, path: string): Buffer => {
    const full = isAbsolute(path) ? path : resolve(dataDir, path);
    try {
      return readFileSync(full);
    } catch (err) {
      throw new KonnektorError('unavailable', `${key}: ${full} cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    }
  };
  switch (config.type) {
    case 'soap': {
      const soap = config.soap!;
      const list = (v: string | string[] | undefined): string[] | undefined => (v === undefined ? undefined : Array.isArray(v) ? v : [v]);
      const build = (s: Omit<NonNullable<KonnektorConfig['soap']>, 'perMandant'>) => new SoapKonnektor({
        url: s.url,
        cardCacheMs: s.cardCacheMs,
        signTimeoutMs: s.signTimeoutMs ?? s.timeoutMs,
        logger,
        transport: {
          ca: list(s.tls.ca)?.map((p) => read('konnektor.soap.tls.ca', p).toString('utf8')),
          pinSha256: list(s.tls.pinSha256),
          basicAuth: s.basicAuth,
          timeoutMs: s.timeoutMs,
          maxResponseBytes: s.maxResponseBytes,
        },
        ...(s.tls.clientP12 ? { clientP12: { bytes: new Uint8Array(read('konnektor.soap.tls.clientP12', s.tls.clientP12)), password: s.tls.password ?? '' } } : {}),
      });
      const fallback = build(soap);
      if (soap.perMandant.length === 0) return fallback;
      // One Konnektor per practice that has its own: the call context's Mandant picks it.
      const byMandant = new Map<string, SoapKonnektor>();
      for (const entry of soap.perMandant) {
        const k = build(entry);
        for (const m of entry.mandanten) byMandant.set(m, k);
      }
      return new RoutingKonnektor(fallback, byMandant);
    }
    case 'software': {
      const trustAnchors = config.trustAnchors.flatMap((path) => {
        const full = isAbsolute(path) ? path : resolve(dataDir, path);
        try {
          return readCertificateFile(full);
        } catch (err) {
          throw new KonnektorError('unavailable', `konnektor.trustAnchors: ${full} cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
        }
      });
      return new SoftwareKonnektor({
        trustAnchors,
        workers: config.workers,
        serviceVersions: config.serviceVersions,
        mandanten: config.mandanten.map((m) => ({
          id: m.id,
          clientSystems: m.clientSystems,
          workplaces: m.workplaces,
          smcb: m.smcb && cardLoaderFromFiles(m.smcb, dataDir),
          hba: Object.fromEntries(Object.entries(m.hba).map(([userId, card]) => [userId, cardLoaderFromFiles(card, dataDir)])),
        })),
      });
    }
  }
}
