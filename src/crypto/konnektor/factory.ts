import { isAbsolute, resolve } from 'node:path';
import type { KonnektorConfig } from '../../config/index.js';
import { cardLoaderFromFiles, readCertificateFile } from './card-files.js';
import { KonnektorError } from './errors.js';
import { SoftwareKonnektor } from './software.js';
import type { Konnektor } from './types.js';

/**
 * The Konnektor the configuration asks for. Only `software` exists; a SOAP client for a real
 * Konnektor will be another `type` behind the same interface. Trust anchors are read now, so a
 * wrong path fails at start; card files are read at first use.
 */
export function createKonnektor(config: KonnektorConfig, dataDir: string): Konnektor {
  switch (config.type) {
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
