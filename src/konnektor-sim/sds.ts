import type { ServiceWsdl } from './wsdl.js';
import { declared, el, text } from './xml.js';

export interface SdsInput {
  readonly baseUrl: string;
  readonly services: readonly ServiceWsdl[];
  /** The versions announced, by service name. */
  readonly versions: Readonly<Record<string, string>>;
  readonly clientAuthMandatory: boolean;
  readonly productVersion: string;
}

/**
 * connector.sds (ServiceDirectory.xsd, ConnectorServices): product information, TLS and client
 * authentication flags, and per service its version with the TLS endpoint. The client reads the
 * SignatureService and EncryptionService versions from here to decide ECC (A_17464).
 */
export function connectorSds(input: SdsInput): string {
  const v = /^\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(input.productVersion) ? input.productVersion : '0.1.0';
  const product = el('PI:ProductInformation', [
    text('PI:InformationDate', new Date().toISOString()),
    el('PI:ProductTypeInformation', [text('PI:ProductType', 'Konnektor'), text('PI:ProductTypeVersion', '5.0.0')]),
    el('PI:ProductIdentification', [text('PI:ProductVendorID', 'PSTMT'), text('PI:ProductCode', 'KONSIM'), el('PI:ProductVersion', el('PI:Local', [text('PI:HWVersion', '0.0.0'), text('PI:FWVersion', v)]))]),
    el('PI:ProductMiscellaneous', [text('PI:ProductVendorName', 'Postamt'), text('PI:ProductName', 'Postamt Konnektor-Simulator')]),
  ]);
  const services = el(
    'SI:ServiceInformation',
    input.services.map((s) =>
      el(
        'SI:Service',
        [
          text('SI:Abstract', s.abstract),
          el('SI:Versions', el('SI:Version', [text('SI:Abstract', `${s.name} ${input.versions[s.name]}`), el('SI:EndpointTLS', '', { Location: `${input.baseUrl}${s.path}` })], { TargetNamespace: s.targetNamespace, Version: input.versions[s.name]! })),
        ],
        { Name: s.name },
      ),
    ),
  );
  const root = el('SDS:ConnectorServices', [product, text('SDS:TLSMandatory', true), text('SDS:ClientAutMandatory', input.clientAuthMandatory), services]);
  return '<?xml version="1.0" encoding="UTF-8"?>\n' + declared(root) + '\n';
}
