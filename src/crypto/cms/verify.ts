import { constants, createHash, timingSafeEqual, verify as verifySignatureBytes } from 'node:crypto';
import { digestOf, readAlgId, signatureSchemeOf, type AlgId, type DigestName, type SignatureScheme } from './algorithms.js';
import { parseCertificate, type ParsedCertificate } from './certificate.js';
import { checkChain, validAt, type CheckResult } from './chain.js';
import { openContentInfo } from './content-info.js';
import {
  FieldReader,
  UNIVERSAL,
  childrenOf,
  expectOctets,
  expectOid,
  expectSequence,
  expectSet,
  expectSmallInt,
  expectTime,
  explicitInner,
  isUniversal,
  rawOf,
  type Tlv,
  TAG,
} from '../../wire/ber/index.js';
import { CmsError, typed } from './errors.js';
import { OID } from './oids.js';
import { decodeRecipientEmailsAttributeValues, decodeRecipientId, ridMatchesCertificate, type RecipientEmail, type RecipientId } from './recipient-emails.js';

export type VerifyCheckName = 'signature' | 'digest' | 'validity' | 'keyUsage' | 'chain';
/** The checks in the order a report should print them. */
export const VERIFY_CHECKS: readonly VerifyCheckName[] = ['signature', 'digest', 'validity', 'keyUsage', 'chain'];

export interface VerifyOptions {
  /** Certificates trusted directly (e.g. the CAs issuing SMC-B certificates), DER. */
  readonly trustAnchors: readonly Uint8Array[];
  /** When validity and chain are judged. Default: the signing time (unless it lies in the future), else now. */
  readonly at?: Date;
}

/**
 * The result of a verification that got as far as the checks. Structural problems (not
 * SignedData, undecodable, unsupported algorithm, signer certificate missing) are thrown as
 * CmsError instead; cryptographic and policy failures are failed checks here, so a report can
 * list every check with its outcome. Only `ok` means the content may be trusted.
 */
export interface SignedDataVerification {
  readonly ok: boolean;
  /** Names of the failed checks, in VERIFY_CHECKS order. */
  readonly failed: readonly VerifyCheckName[];
  readonly checks: Readonly<Record<VerifyCheckName, CheckResult>>;
  /** The signed content. A view into the input bytes, not a copy. */
  readonly content: Uint8Array;
  readonly contentType: string;
  /** DER of the certificate the SignerInfo names. */
  readonly signerCert: Uint8Array;
  readonly signingTime: Date | undefined;
  /** The instant validity and chain were judged at. */
  readonly checkedAt: Date;
  readonly checkedAtSource: 'given' | 'signing-time' | 'now';
  /** The signed recipient-emails copy; empty when the attribute is absent (a present one is never empty). */
  readonly recipientEmails: RecipientEmail[];
  /** e.g. "RSASSA-PSS SHA-256 (salt 32)". */
  readonly signatureAlgorithm: string;
}

/** A signing time this far ahead of our clock is not believed for choosing the check instant. */
const FUTURE_SKEW_MS = 5 * 60_000;

/**
 * Verifies a SignedData (DER of a ContentInfo): signature, messageDigest, the signer
 * certificate's validity period and keyUsage, and its path to `trustAnchors`. Each check is
 * reported; the result's `ok` is their conjunction.
 */
export function verifySignedData(der: Uint8Array, opts: VerifyOptions): SignedDataVerification {
  return typed('verifySignedData', () => {
    const anchors = (opts.trustAnchors ?? []).map((a, i) => parseCertificate(a, `trust anchor ${i}`, 'invalid-input'));
    const sd = readSignedData(der);
    const { signerInfo } = sd;

    const signer = sd.certificates.find((c) => ridMatchesCertificate(signerInfo.sid, c));
    if (!signer) throw new CmsError('signer-not-found', 'SignedData: the certificate named by the SignerInfo is not included');
    const digest = digestOf(signerInfo.digestAlgorithm, 'digestAlgorithm');
    const scheme = signatureSchemeOf(signerInfo.signatureAlgorithm, digest);
    const keyType = signer.publicKey().asymmetricKeyType;
    const ecdsa = scheme.scheme === 'ecdsa';
    if (ecdsa ? keyType !== 'ec' : keyType !== 'rsa' && keyType !== 'rsa-pss') {
      throw new CmsError('unsupported', `signer key type ${keyType ?? 'unknown'} does not fit the ${scheme.scheme} signature algorithm`);
    }

    let signedBytes = sd.content;
    let digestCheck: CheckResult = { ok: true, detail: 'no signed attributes: the signature covers the content itself' };
    let signingTime: Date | undefined;
    let recipientEmails: RecipientEmail[] = [];
    if (signerInfo.signedAttrs) {
      const attrs = readSignedAttributes(signerInfo.signedAttrs, sd.contentType);
      signingTime = attrs.signingTime;
      recipientEmails = attrs.recipientEmails;
      const computed = createHash(digest).update(sd.content).digest();
      const same = attrs.messageDigest.length === computed.length && timingSafeEqual(attrs.messageDigest, computed);
      digestCheck = same
        ? { ok: true, detail: `${hashLabel(digest)} message digest matches the content` }
        : { ok: false, detail: `messageDigest attribute does not match the ${hashLabel(digest)} of the content` };
      // RFC 5652 5.4: the signature covers the attributes as received, with a SET OF tag.
      const toVerify = Buffer.from(rawOf(signerInfo.signedAttrs));
      toVerify[0] = TAG.set;
      signedBytes = toVerify;
    }

    const algorithm = describeScheme(scheme);
    const signatureCheck: CheckResult = verifySignature(signedBytes, signerInfo.signature, signer, scheme)
      ? { ok: true, detail: `${algorithm} signature by ${signer.subjectName()} is valid` }
      : { ok: false, detail: `${algorithm} signature does not verify with the signer's public key` };

    const now = new Date();
    const [checkedAt, checkedAtSource] = opts.at
      ? [opts.at, 'given' as const]
      : signingTime && signingTime.getTime() <= now.getTime() + FUTURE_SKEW_MS
        ? [signingTime, 'signing-time' as const]
        : [now, 'now' as const];

    const checks: Record<VerifyCheckName, CheckResult> = {
      signature: signatureCheck,
      digest: digestCheck,
      validity: validityCheck(signer, checkedAt),
      keyUsage: keyUsageCheck(signer),
      chain: checkChain(signer, anchors, sd.certificates.filter((c) => c !== signer), checkedAt),
    };
    const failed = VERIFY_CHECKS.filter((name) => !checks[name].ok);
    return {
      ok: failed.length === 0,
      failed,
      checks,
      content: sd.content,
      contentType: sd.contentType,
      signerCert: signer.der,
      signingTime,
      checkedAt,
      checkedAtSource,
      recipientEmails,
      signatureAlgorithm: algorithm,
    };
  });
}

interface ParsedSignerInfo {
  sid: RecipientId;
  digestAlgorithm: AlgId;
  signedAttrs: Tlv | undefined;
  signatureAlgorithm: AlgId;
  signature: Uint8Array;
}

interface ParsedSignedData {
  contentType: string;
  content: Uint8Array;
  certificates: ParsedCertificate[];
  signerInfo: ParsedSignerInfo;
}

/** SignedData (RFC 5652 5.1) down to the one SignerInfo KOM-LE allows. */
function readSignedData(der: Uint8Array): ParsedSignedData {
  const what = 'SignedData';
  const r = new FieldReader(expectSequence(openContentInfo(der, OID.signedData, what), what), what);
  expectSmallInt(r.next('version'), `${what} version`);
  expectSet(r.next('digestAlgorithms'), `${what} digestAlgorithms`);
  const encap = new FieldReader(expectSequence(r.next('encapContentInfo'), 'EncapsulatedContentInfo'), 'EncapsulatedContentInfo');
  const contentType = expectOid(encap.next('eContentType'), 'eContentType');
  const eContent = encap.optionalContext(0);
  encap.end();
  const certificates = r.optionalContext(0);
  r.optionalContext(1); // crls: revocation is checked elsewhere (TSL/OCSP)
  const signerInfos = expectSet(r.next('signerInfos'), `${what} signerInfos`);
  r.end();
  if (!eContent) throw new CmsError('unsupported', `${what}: detached signatures are not supported`);
  if (signerInfos.length === 0) throw new CmsError('malformed', `${what}: no SignerInfo`);
  if (signerInfos.length > 1) throw new CmsError('unsupported', `${what}: exactly one SignerInfo expected, found ${signerInfos.length}`);
  return {
    contentType,
    content: expectOctets(explicitInner(eContent, 'eContent'), 'eContent'),
    // X.509 certificates only (SEQUENCE); attribute and other certificate formats are skipped.
    certificates: certificates
      ? childrenOf(certificates, 'certificates')
          .filter((c) => isUniversal(c, UNIVERSAL.sequence))
          .map((c) => parseCertificate(rawOf(c), 'certificate in SignedData', 'malformed'))
      : [],
    signerInfo: readSignerInfo(signerInfos[0]!),
  };
}

function readSignerInfo(tlv: Tlv): ParsedSignerInfo {
  const what = 'SignerInfo';
  const r = new FieldReader(expectSequence(tlv, what), what);
  expectSmallInt(r.next('version'), `${what} version`);
  const sid = decodeRecipientId(r.next('sid'), `${what} sid`);
  const digestAlgorithm = readAlgId(r.next('digestAlgorithm'), 'digestAlgorithm');
  const signedAttrs = r.optionalContext(0);
  const signatureAlgorithm = readAlgId(r.next('signatureAlgorithm'), 'signatureAlgorithm');
  const signature = expectOctets(r.next('signature'), `${what} signature`);
  r.optionalContext(1); // unsignedAttrs: not covered by the signature, not used here
  r.end();
  if (signedAttrs && !signedAttrs.constructed) throw new CmsError('malformed', `${what}: signedAttrs must be constructed`);
  return { sid, digestAlgorithm, signedAttrs, signatureAlgorithm, signature };
}

interface SignedAttributeValues {
  messageDigest: Uint8Array;
  signingTime: Date | undefined;
  recipientEmails: RecipientEmail[];
}

/** RFC 5652 11: contentType and messageDigest are mandatory; they and signingTime are single-valued and unique. */
function readSignedAttributes(signedAttrs: Tlv, eContentType: string): SignedAttributeValues {
  const values = new Map<string, Tlv[]>();
  for (const [i, attr] of childrenOf(signedAttrs, 'signedAttrs').entries()) {
    const [type, set, ...rest] = expectSequence(attr, `signedAttrs[${i}]`);
    if (rest.length) throw new CmsError('malformed', `signedAttrs[${i}]: extra fields`);
    const oid = expectOid(type, `signedAttrs[${i}] type`);
    if (values.has(oid)) throw new CmsError('malformed', `signed attribute ${oid} occurs twice`);
    values.set(oid, expectSet(set, `signedAttrs[${i}] values`));
  }
  const single = (oid: string, name: string): Tlv | undefined => {
    const v = values.get(oid);
    if (v === undefined) return undefined;
    if (v.length !== 1) throw new CmsError('malformed', `signed attribute ${name} must have exactly one value`);
    return v[0];
  };
  const contentType = single(OID.contentType, 'contentType');
  if (!contentType) throw new CmsError('malformed', 'signed attributes: contentType missing');
  if (expectOid(contentType, 'contentType attribute') !== eContentType) throw new CmsError('malformed', 'signed contentType differs from eContentType');
  const digest = single(OID.messageDigest, 'messageDigest');
  if (!digest) throw new CmsError('malformed', 'signed attributes: messageDigest missing');
  const time = single(OID.signingTime, 'signingTime');
  const emails = values.get(OID.recipientEmails);
  return {
    messageDigest: expectOctets(digest, 'messageDigest'),
    signingTime: time && expectTime(time, 'signingTime'),
    recipientEmails: emails ? decodeRecipientEmailsAttributeValues(emails) : [],
  };
}

function hashLabel(digest: DigestName): string {
  return digest.toUpperCase().replace('SHA', 'SHA-');
}

function verifySignature(data: Uint8Array, signature: Uint8Array, signer: ParsedCertificate, scheme: SignatureScheme): boolean {
  try {
    const key = signer.publicKey();
    if (scheme.scheme === 'ecdsa') return verifySignatureBytes(scheme.hash, data, { key, dsaEncoding: 'der' }, signature);
    return scheme.scheme === 'pss'
      ? verifySignatureBytes(scheme.hash, data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: scheme.saltLength }, signature)
      : verifySignatureBytes(scheme.hash, data, { key, padding: constants.RSA_PKCS1_PADDING }, signature);
  } catch {
    return false; // e.g. a signature longer than the modulus: simply not a valid signature
  }
}

function describeScheme(scheme: SignatureScheme): string {
  const hash = hashLabel(scheme.hash);
  if (scheme.scheme === 'ecdsa') return `ECDSA ${hash}`;
  return scheme.scheme === 'pss' ? `RSASSA-PSS ${hash} (salt ${scheme.saltLength})` : `RSASSA-PKCS1-v1_5 ${hash}`;
}

function validityCheck(cert: ParsedCertificate, at: Date): CheckResult {
  const period = `${cert.notBefore.toISOString()} .. ${cert.notAfter.toISOString()}`;
  return validAt(cert, at)
    ? { ok: true, detail: `signer certificate valid at ${at.toISOString()} (${period})` }
    : { ok: false, detail: `signer certificate not valid at ${at.toISOString()} (${period})` };
}

/** KOM-LE signer certificates (C.HCI.OSIG) carry keyUsage; a certificate without it is refused. */
function keyUsageCheck(cert: ParsedCertificate): CheckResult {
  const usage = cert.keyUsage();
  if (!usage) return { ok: false, detail: 'signer certificate has no keyUsage extension' };
  const granted = (['digitalSignature', 'nonRepudiation'] as const).filter((u) => usage.has(u));
  return granted.length > 0
    ? { ok: true, detail: `keyUsage allows ${granted.join(' and ')}` }
    : { ok: false, detail: `keyUsage (${[...usage].join(', ') || 'empty'}) allows neither digitalSignature nor nonRepudiation` };
}
