import * as asn1js from 'asn1js';

/**
 * The Admission extension (Common PKI / ISIS-MTT, OID 1.3.36.8.3.3) as gematik uses it in
 * SMC-B and HBA certificates: the Telematik-ID is the `registrationNumber` of the one
 * ProfessionInfo, next to the profession OID (e.g. 1.2.276.0.76.4.50 "Betriebsstätte Arzt").
 *
 *   AdmissionSyntax ::= SEQUENCE { admissionAuthority GeneralName OPTIONAL,
 *                                  contentsOfAdmissions SEQUENCE OF Admissions }
 *   Admissions ::= SEQUENCE { admissionAuthority [0] EXPLICIT GeneralName OPTIONAL,
 *                             namingAuthority [1] EXPLICIT NamingAuthority OPTIONAL,
 *                             professionInfos SEQUENCE OF ProfessionInfo }
 *   ProfessionInfo ::= SEQUENCE { namingAuthority [0] EXPLICIT NamingAuthority OPTIONAL,
 *                                 professionItems SEQUENCE OF DirectoryString,
 *                                 professionOIDs SEQUENCE OF OBJECT IDENTIFIER OPTIONAL,
 *                                 registrationNumber PrintableString (SIZE(1..128)) OPTIONAL,
 *                                 addProfessionInfo OCTET STRING OPTIONAL }
 */
export const ADMISSION_OID = '1.3.36.8.3.3';

export interface Admission {
  professionItem: string;
  professionOid: string;
  telematikId: string;
}

const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]{1,128}$/;

export function encodeAdmission(a: Admission): ArrayBuffer {
  if (!PRINTABLE.test(a.telematikId)) throw new Error(`Telematik-ID "${a.telematikId}" is not a PrintableString of 1–128 characters`);
  const professionInfo = new asn1js.Sequence({
    value: [
      new asn1js.Sequence({ value: [new asn1js.Utf8String({ value: a.professionItem })] }),
      new asn1js.Sequence({ value: [new asn1js.ObjectIdentifier({ value: a.professionOid })] }),
      new asn1js.PrintableString({ value: a.telematikId }),
    ],
  });
  const admissions = new asn1js.Sequence({ value: [new asn1js.Sequence({ value: [professionInfo] })] });
  return new asn1js.Sequence({ value: [new asn1js.Sequence({ value: [admissions] })] }).toBER(false);
}

/** Reads the Admission extension's value; null when it is not of the expected shape. */
export function decodeAdmission(der: ArrayBuffer | Uint8Array): Admission | null {
  const buf = der instanceof Uint8Array ? der.slice().buffer : der;
  const parsed = asn1js.fromBER(buf);
  if (parsed.offset === -1) return null;
  const top = parsed.result;
  if (!(top instanceof asn1js.Sequence)) return null;
  // An optional admissionAuthority (a GeneralName, never a plain SEQUENCE OF) may come first.
  const contents = top.valueBlock.value.find((v) => v instanceof asn1js.Sequence) as asn1js.Sequence | undefined;
  const admissions = contents?.valueBlock.value[0];
  if (!(admissions instanceof asn1js.Sequence)) return null;
  const professionInfos = admissions.valueBlock.value.find((v) => v instanceof asn1js.Sequence) as asn1js.Sequence | undefined;
  const info = professionInfos?.valueBlock.value[0];
  if (!(info instanceof asn1js.Sequence)) return null;
  let professionItem = '';
  let professionOid = '';
  let telematikId = '';
  for (const part of info.valueBlock.value) {
    if (part instanceof asn1js.PrintableString) telematikId = part.valueBlock.value;
    else if (part instanceof asn1js.Sequence) {
      const first = part.valueBlock.value[0];
      if (first instanceof asn1js.ObjectIdentifier) professionOid = first.valueBlock.toString();
      else if (first instanceof asn1js.Utf8String || first instanceof asn1js.PrintableString || first instanceof asn1js.BmpString) {
        professionItem = first.valueBlock.value;
      }
    }
  }
  return telematikId ? { professionItem, professionOid, telematikId } : null;
}
