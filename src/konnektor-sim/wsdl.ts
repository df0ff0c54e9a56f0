import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * gematik's WSDLs the simulator serves, from the repository's vendor/gematik/api-telematik
 * (never from elsewhere at run time). One WSDL per service; the version connector.sds announces
 * picks it, so only versions whose WSDL is vendored can be announced.
 */
export type ServiceName = 'EventService' | 'CardService' | 'CertificateService' | 'SignatureService' | 'EncryptionService' | 'AuthSignatureService';

export interface ServiceWsdl {
  readonly name: ServiceName;
  /** URL path of its endpoint. */
  readonly path: string;
  /** The WSDL's file, relative to vendor/gematik/api-telematik/conn. */
  readonly file: string;
  /** The WSDL's target namespace (connector.sds Version/@TargetNamespace). */
  readonly targetNamespace: string;
  /** What connector.sds says about it. */
  readonly abstract: string;
}

const WSDLS: Record<ServiceName, Record<string, Omit<ServiceWsdl, 'name' | 'path' | 'abstract'>>> = {
  EventService: { '7.2.0': { file: 'EventService.wsdl', targetNamespace: 'http://ws.gematik.de/conn/EventService/WSDL/v7.2' } },
  CardService: {
    '8.1.0': { file: 'CardService.wsdl', targetNamespace: 'http://ws.gematik.de/conn/CardService/WSDL/v8.1' },
    '8.1.1': { file: 'CardService_v8_1_1.wsdl', targetNamespace: 'http://ws.gematik.de/conn/CardService/WSDL/v8.1' },
    '8.1.2': { file: 'CardService_v8_1_2.wsdl', targetNamespace: 'http://ws.gematik.de/conn/CardService/WSDL/v8.1' },
  },
  CertificateService: {
    '6.0.0': { file: 'CertificateService.wsdl', targetNamespace: 'http://ws.gematik.de/conn/CertificateService/WSDL/v6.0' },
    '6.0.1': { file: 'CertificateService_v6_0_1.wsdl', targetNamespace: 'http://ws.gematik.de/conn/CertificateService/WSDL/v6.0' },
  },
  SignatureService: {
    '7.5.5': { file: 'SignatureService_V7_5_5.wsdl', targetNamespace: 'http://ws.gematik.de/conn/SignatureService/WSDL/v7.5' },
    '7.5.6': { file: 'SignatureService_V7_5_6.wsdl', targetNamespace: 'http://ws.gematik.de/conn/SignatureService/WSDL/v7.5' },
  },
  EncryptionService: { '6.1.1': { file: 'EncryptionService_v6_1_1.wsdl', targetNamespace: 'http://ws.gematik.de/conn/EncryptionService/WSDL/v6.1' } },
  AuthSignatureService: { '7.4.1': { file: 'AuthSignatureService_v7_4_1.wsdl', targetNamespace: 'http://ws.gematik.de/conn/AuthSignatureService/WSDL/v7.4' } },
};

const ABSTRACTS: Record<ServiceName, string> = {
  EventService: 'Ereignisdienst',
  CardService: 'Kartendienst',
  CertificateService: 'Zertifikatsdienst',
  SignatureService: 'Signaturdienst',
  EncryptionService: 'Verschlüsselungsdienst',
  AuthSignatureService: 'Signaturdienst Authentisierung',
};

/**
 * The handlers and the response XML follow the SignatureService 7.5 and EncryptionService 6.1
 * schemas; the older 7.4/6.0 WSDLs have other namespaces, so they are not offered.
 */
export function serviceWsdl(name: ServiceName, version: string): ServiceWsdl {
  const w = WSDLS[name][version];
  if (!w) throw new Error(`konnektorSim.serviceVersions: no vendored ${name} WSDL of version ${version} (vendored: ${Object.keys(WSDLS[name]).join(', ')})`);
  return { name, path: `/${name.toLowerCase()}`, abstract: ABSTRACTS[name], ...w };
}

/** vendor/gematik/api-telematik of this checkout (src/konnektor-sim and dist/src/konnektor-sim both lie below the root). */
export function apiTelematikDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, 'vendor', 'gematik', 'api-telematik');
    if (existsSync(join(candidate, 'conn'))) return candidate;
    dir = resolve(dir, '..');
  }
  throw new Error('vendor/gematik/api-telematik not found above ' + dirname(fileURLToPath(import.meta.url)));
}

export const wsdlPath = (w: ServiceWsdl): string => join(apiTelematikDir(), 'conn', w.file);
