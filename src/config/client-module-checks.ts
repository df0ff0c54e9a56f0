import type { Config } from './schema.js';

/**
 * What is valid but probably not meant in the client module's accounts and providers: the clientmodule role
 * logs these at start (`forRole`), `postamt config check` prints them for a file that names
 * Mandanten (one that is not meant for a client module does not get them). An empty list is
 * the safe default — every login refused — and must be said, or a new installation looks
 * broken for no reason.
 */
export function clientModuleWarnings(config: Config, forRole = false): string[] {
  const cm = config.clientModule;
  const out: string[] = [];
  const mandanten = new Set(config.konnektor.mandanten.map((m) => m.id));
  const soap = config.konnektor.type === 'soap';
  if (!forRole && mandanten.size === 0 && !soap) return out;
  // KOM-LE-A_2071: certificate-based client authentication is the default a Konnektor connection should have.
  if (soap && config.konnektor.soap && !config.konnektor.soap.tls.clientP12 && !config.konnektor.soap.basicAuth) {
    out.push('konnektor.soap has neither tls.clientP12 nor basicAuth: the client module connects to the Konnektor without client authentication (KOM-LE-A_2071 expects a client certificate; export one for this client system from the Konnektor\'s admin UI)');
  }
  // KOM-LE-A_2074, A_2182-01: the client module authenticates to the service with the provider's C.CM.TLS-CS.
  const withoutCert = cm.accounts.filter((a) => !a.clientCertificate).map((a) => a.address);
  if (!cm.upstream.clientCertificate && withoutCert.length > 0) {
    out.push(`no TLS client certificate for ${withoutCert.length === cm.accounts.length ? 'any account' : withoutCert.join(', ')}: the client module connects to the mail service without one (KOM-LE-A_2182-01 expects the provider's C.CM.TLS-CS; get it by createCert and set clientModule.upstream.clientCertificate or clientModule.accounts[].clientCertificate)`);
  }
  if (cm.providers.length === 0) {
    out.push('clientModule.providers is empty: a client module started with this file refuses every login (list the mail services user names may point at, as host or domain with ports; the demo of `postamt start` configures its own service)');
  }
  if (cm.accounts.length === 0) {
    out.push('clientModule.accounts is empty: a client module started with this file refuses every login (list each KIM address with the call contexts it may use; the demo of `postamt start` configures its practices itself)');
  }
  if (mandanten.size > 0 && !soap) {
    cm.accounts.forEach((a, i) => {
      for (const c of a.contexts) {
        if (!mandanten.has(c.mandant)) out.push(`clientModule.accounts[${i}] (${a.address}): Mandant ${c.mandant} is not in konnektor.mandanten, so logins with it fail at the Konnektor`);
      }
    });
  }
  return out;
}
