import { atLeast, eccCapable, type KonnektorServiceVersions } from '../ecc-capability.js';
import { KonnektorError } from '../errors.js';
import { child, children, parseXml, path, XmlError, type XmlElement } from './xml.js';

/** The services Postamt needs, by their connector.sds names. */
export type RequiredServiceName = 'EventService' | 'CardService' | 'CertificateService' | 'SignatureService' | 'EncryptionService';
export const SERVICE_NAMES: readonly RequiredServiceName[] = ['EventService', 'CardService', 'CertificateService', 'SignatureService', 'EncryptionService'];
/**
 * AuthSignatureService (ExternalAuthenticate) only serves the Account Manager's JWT: a
 * Konnektor without it still signs, encrypts and decrypts mail, so it is used when announced.
 */
export type ServiceName = RequiredServiceName | 'AuthSignatureService';
const OPTIONAL_SERVICE_NAMES: readonly ServiceName[] = ['AuthSignatureService'];

/**
 * The vendored WSDLs (vendor/gematik/api-telematik/conn), by service and the version each one
 * describes (its version history). A Konnektor announcing 7.5.4 is spoken to with the 7.5
 * WSDL at or below it (7.5.5's differs only in additions); versions of another major.minor
 * than ours are not used.
 */
export const VENDORED_WSDLS: Readonly<Record<ServiceName, ReadonlyArray<{ version: string; file: string }>>> = {
  EventService: [{ version: '7.2.0', file: 'EventService.wsdl' }],
  CardService: [
    { version: '8.1.0', file: 'CardService.wsdl' },
    { version: '8.1.1', file: 'CardService_v8_1_1.wsdl' },
    { version: '8.1.2', file: 'CardService_v8_1_2.wsdl' },
  ],
  CertificateService: [
    { version: '6.0.0', file: 'CertificateService.wsdl' },
    { version: '6.0.1', file: 'CertificateService_v6_0_1.wsdl' },
  ],
  SignatureService: [
    { version: '7.4.0', file: 'SignatureService.wsdl' },
    // Its history lists 7.4.1 and 7.4.2: the first with Crypt (ECC), so it answers for both.
    { version: '7.4.1', file: 'SignatureService_V7_4_2.wsdl' },
    { version: '7.5.5', file: 'SignatureService_V7_5_5.wsdl' },
    { version: '7.5.6', file: 'SignatureService_V7_5_6.wsdl' },
  ],
  EncryptionService: [
    { version: '6.1.0', file: 'EncryptionService.wsdl' },
    { version: '6.1.1', file: 'EncryptionService_v6_1_1.wsdl' },
  ],
  AuthSignatureService: [
    { version: '7.4.0', file: 'AuthSignatureService.wsdl' },
    { version: '7.4.1', file: 'AuthSignatureService_v7_4_1.wsdl' },
  ],
};

/** One service as Postamt will use it: the announced version, its TLS endpoint, the WSDL file. */
export interface ChosenService {
  readonly name: ServiceName;
  readonly version: string;
  readonly endpoint: string;
  readonly wsdlFile: string;
  /** The vendored WSDL's own version (may be below `version`). */
  readonly wsdlVersion: string;
}

export interface ServiceDirectory {
  /** X-KIM-KONVersion (A_21388-01): <ProductName><ProductType><ProductTypeVersion><HWVersion><FWVersion>. */
  readonly productInfo: string;
  readonly product: { readonly vendor: string; readonly name: string; readonly type: string; readonly typeVersion: string; readonly hwVersion: string; readonly fwVersion: string };
  readonly tlsMandatory: boolean;
  readonly clientAuthMandatory: boolean;
  readonly services: Readonly<Record<RequiredServiceName, ChosenService>> & { readonly AuthSignatureService?: ChosenService };
  /** Every version each service announces (for `konnektor status`). */
  readonly announced: Readonly<Record<string, readonly string[]>>;
  /** A_17464: SignatureService >= 7.4.1 and EncryptionService >= 6.1.1, judged on the versions used. */
  readonly eccCapable: boolean;
  readonly serviceVersions: KonnektorServiceVersions;
}

const VERSION = /^\d+(\.\d+)*$/;

function majorMinor(v: string): string {
  return v.split('.').slice(0, 2).join('.');
}

/** The vendored WSDL for an announced version: same major.minor, the highest at or below it, else the lowest above. */
export function wsdlFor(name: ServiceName, version: string): { version: string; file: string } | undefined {
  const family = VENDORED_WSDLS[name].filter((w) => majorMinor(w.version) === majorMinor(version));
  const below = family.filter((w) => atLeast(version, w.version));
  return below[below.length - 1] ?? family[0];
}

/**
 * Reads connector.sds (ServiceDirectory.xsd: ConnectorServices with ProductInformation and
 * ServiceInformation) and picks, per service, the highest announced version we hold a WSDL for,
 * with its EndpointTLS. A service missing or only in versions we cannot speak makes the whole
 * Konnektor `unavailable`: starting half-working would fail later, message by message.
 */
export function parseServiceDirectory(xml: string, sdsUrl: string): ServiceDirectory {
  let root: XmlElement;
  try {
    root = parseXml(xml);
  } catch (err) {
    throw new KonnektorError('unavailable', `connector.sds: ${err instanceof XmlError ? err.message : String(err)}`, { cause: err });
  }
  if (root.name !== 'ConnectorServices') throw new KonnektorError('unavailable', `connector.sds: root element ${root.name}, ConnectorServices expected`);
  const pi = child(root, 'ProductInformation');
  const text = (...names: string[]): string => path(pi, ...names)?.text.trim() ?? '';
  const product = {
    vendor: text('ProductIdentification', 'ProductVendorID'),
    name: text('ProductMiscellaneous', 'ProductName'),
    type: text('ProductTypeInformation', 'ProductType'),
    typeVersion: text('ProductTypeInformation', 'ProductTypeVersion'),
    hwVersion: text('ProductIdentification', 'ProductVersion', 'Local', 'HWVersion'),
    fwVersion: text('ProductIdentification', 'ProductVersion', 'Local', 'FWVersion'),
  };
  const parts = [product.name, product.type, product.typeVersion, product.hwVersion, product.fwVersion];
  // X-KIM-KONVersion's five fields; a central product version (no HW/FW) or a field with <> would break the header.
  if (parts.some((p) => p === '' || /[<>\r\n]/.test(p))) {
    throw new KonnektorError('unavailable', `connector.sds: ProductInformation lacks ProductName, ProductType, ProductTypeVersion, HWVersion or FWVersion (${JSON.stringify(parts)})`);
  }
  const productInfo = parts.map((p) => `<${p}>`).join('');

  const announced: Record<string, string[]> = {};
  const chosen: Partial<Record<ServiceName, ChosenService>> = {};
  for (const svc of children(child(root, 'ServiceInformation'), 'Service')) {
    const name = svc.attrs['Name'] ?? '';
    const versions = children(child(svc, 'Versions'), 'Version');
    announced[name] = versions.map((v) => v.attrs['Version'] ?? '?');
    if (!(SERVICE_NAMES as readonly string[]).includes(name) && !OPTIONAL_SERVICE_NAMES.includes(name as ServiceName)) continue;
    const sn = name as ServiceName;
    for (const v of versions) {
      const version = (v.attrs['Version'] ?? '').trim();
      const location = child(v, 'EndpointTLS')?.attrs['Location'];
      if (!VERSION.test(version) || !location) continue;
      const wsdl = wsdlFor(sn, version);
      if (!wsdl) continue;
      const prev = chosen[sn];
      if (prev && atLeast(prev.version, version)) continue;
      chosen[sn] = { name: sn, version, endpoint: resolveEndpoint(location, sdsUrl), wsdlFile: wsdl.file, wsdlVersion: wsdl.version };
    }
  }
  const missing = SERVICE_NAMES.filter((n) => !chosen[n]);
  if (missing.length) {
    const offered = missing.map((n) => `${n} ${announced[n]?.join('/') || 'absent'}`).join(', ');
    throw new KonnektorError('unavailable', `connector.sds: no usable version of ${offered} (Postamt speaks ${missing.map((n) => `${n} ${VENDORED_WSDLS[n].map((w) => majorMinor(w.version)).filter((x, i, a) => a.indexOf(x) === i).join('/')}`).join(', ')})`);
  }
  const services = chosen as Record<RequiredServiceName, ChosenService> & { AuthSignatureService?: ChosenService };
  const serviceVersions = { signatureService: services.SignatureService.version, encryptionService: services.EncryptionService.version };
  return {
    productInfo,
    product,
    tlsMandatory: child(root, 'TLSMandatory')?.text.trim() === 'true',
    clientAuthMandatory: child(root, 'ClientAutMandatory')?.text.trim() === 'true',
    services,
    announced,
    eccCapable: eccCapable(serviceVersions),
    serviceVersions,
  };
}

/**
 * An endpoint as the SDS gives it. Konnektoren announce absolute https URLs; a relative one is
 * taken against the SDS URL. Plain http is refused: the context and the documents go over it.
 */
function resolveEndpoint(location: string, sdsUrl: string): string {
  let u: URL;
  try {
    u = new URL(location, sdsUrl);
  } catch {
    throw new KonnektorError('unavailable', `connector.sds: endpoint ${JSON.stringify(location)} is not a URL`);
  }
  if (u.protocol !== 'https:') throw new KonnektorError('unavailable', `connector.sds: EndpointTLS ${location} is not https`);
  return u.toString();
}
