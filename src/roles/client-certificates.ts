import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { issueClientModuleCert } from '../crypto/index.js';
import type { ClientCertificateIssuer } from '../service/index.js';
import type { KimConfig } from '../config/kim.js';

/**
 * createCert's issuer from `service.kim.accountManager.clientCertificates`: the CA files are
 * read at each call, so a CA that appears after start (the demo's `pki init`) or is replaced
 * is used without a restart; a missing file fails that call (500), not the start.
 */
export function clientCertificateIssuer(c: KimConfig['accountManager']['clientCertificates'], dataDir: string): { issueClientCertificate?: ClientCertificateIssuer } {
  if (c.caCert === undefined || c.caKey === undefined) return {};
  const certPath = resolve(dataDir, c.caCert);
  const keyPath = resolve(dataDir, c.caKey);
  return {
    issueClientCertificate: async (req) => {
      const ca = { certPem: readFileSync(certPath, 'utf8'), keyPem: readFileSync(keyPath, 'utf8') };
      const { p12 } = await issueClientModuleCert(ca, req, { organization: c.organization, country: c.country, validityDays: c.validityDays });
      return p12;
    },
  };
}
