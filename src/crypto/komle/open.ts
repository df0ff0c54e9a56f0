import { mime } from '../../wire/index.js';
import {
  CmsError,
  compareRecipientEmails,
  describeRecipientId,
  envelopeRecipientEmails,
  type DecryptedEnvelope,
  type RecipientEmail,
  type RecipientId,
  type SignedDataVerification,
} from '../cms/index.js';
import { KonnektorError, isContextError, type Konnektor, type KonnektorContext } from '../konnektor/index.js';
import { KOMLE_VERSIONS } from './constants.js';
import { pkcs7Body } from './entity.js';
import { signerMailAddresses } from './signer-addresses.js';
import { INTEGRITY_RESULTS, type DecryptionResult, type Fehlermeldung, type IntegrityResult } from './result-codes.js';

export type OpenCheckName =
  | 'komle-version'
  | 'recipient-key'
  | 'outer-format'
  | 'decryption'
  | 'signed-data-format'
  | 'signature'
  | 'digest'
  | 'validity'
  | 'chain'
  | 'key-usage'
  | 'recipient-emails'
  | 'headers'
  | 'signer-sender';

export interface OpenCheck {
  readonly name: OpenCheckName;
  readonly ok: boolean;
  readonly detail: string;
}

export interface OpenOptions {
  readonly konnektor: Konnektor;
  readonly context: KonnektorContext;
  /** When the signer certificate is judged (default: the signing time, else now). */
  readonly at?: Date;
  /**
   * The fetching user's KIM address (the POP3 user name without the #host:port#… part,
   * KOM-LE-A_2044). When given, only the keys recipient-emails names for this address decrypt
   * (KOM-LE-A_2043, KOM-LE-A_2045); a message that names none for it is not decrypted (01).
   */
  readonly recipientAddress?: string;
}

export interface OpenResult {
  /** False: no X-KOM-LE-Version, the message is passed to the PS unchanged (A_21390). */
  readonly komle: boolean;
  readonly komLeVersion: string | undefined;
  /** X-KOM-LE-Version names a version this client module does not process (A_21391-02). */
  readonly versionUnsupported: boolean;
  /** Undefined when `komle` is false or the version is unsupported. */
  readonly decryption: DecryptionResult | undefined;
  /** The first integrity result; undefined unless decryption succeeded. */
  readonly integrity: IntegrityResult | undefined;
  /** Every integrity result that applies, in the table's order (X-KIM-IntegrityCheckResult repeats). */
  readonly integrityResults: readonly IntegrityResult[];
  /** The first X-KIM-Fehlermeldung; undefined when none applies. */
  readonly fehlermeldung: Fehlermeldung | undefined;
  /** Every X-KIM-Fehlermeldung that applies. */
  readonly fehlermeldungen: readonly Fehlermeldung[];
  /** Decrypted, and every integrity result counts as a valid signature (01, 07). */
  readonly ok: boolean;
  /** Every check made, in order; a check that could not be reached is absent. */
  readonly checks: readonly OpenCheck[];
  readonly outerFields: readonly mime.HeaderField[];
  /** The PS's message as the sender's PS wrote it (a view into the decrypted bytes). */
  readonly inner: Uint8Array | undefined;
  readonly innerFields: readonly mime.HeaderField[] | undefined;
  readonly signerCert: Uint8Array | undefined;
  readonly signingTime: Date | undefined;
  readonly recipientEmails: { readonly signed: readonly RecipientEmail[]; readonly unauthenticated: readonly RecipientEmail[] } | undefined;
}

const ENVELOPE_TYPES = ['authenticated-enveloped-data', 'authenveloped-data'];
const SIGNED_TYPES = ['signed-data'];

/** Header fields whose outer and inner copies must agree (KOM-LE-A_2048-01, Tab_Verm_Sig_Prüf 08). */
const COMPARED_FIELDS = ['From', 'Sender', 'Reply-To', 'To', 'Cc'] as const;

/** The order of Tab_Verm_Sig_Prüf, vendor codes last: results are reported in it. */
const RESULT_ORDER: readonly IntegrityResult[] = ['02', '03', '04', '05', '06', '08', '09', 'X01', 'X02', '07', '01'];

/**
 * Opens a received message (gemSpec_CM_KOMLE 3.4.4.2): recognises KOM-LE by X-KOM-LE-Version
 * (A_21390), checks the version (A_21391-02), picks the fetching user's key by recipient-emails
 * (KOM-LE-A_2043), decrypts through the Konnektor, verifies the inner SignedData through the
 * Konnektor, compares the two recipient-emails copies and the outer and inner header fields
 * (KOM-LE-A_2048-01), and gives the codes of Tab_Fehlertext_Entschl and Tab_Verm_Sig_Prüf.
 * Never throws for anything in the message; throws only the Konnektor's context errors (the
 * caller's MandantId/ClientSystem/Workplace are not allowed), which are no property of the message.
 */
export async function openMessage(raw: Uint8Array, opts: OpenOptions): Promise<OpenResult> {
  const checks: OpenCheck[] = [];
  const check = (name: OpenCheckName, ok: boolean, detail: string): boolean => {
    checks.push({ name, ok, detail });
    return ok;
  };
  const none = {
    komLeVersion: undefined as string | undefined,
    versionUnsupported: false,
    outerFields: [] as readonly mime.HeaderField[],
    decryption: undefined,
    integrity: undefined,
    integrityResults: [] as IntegrityResult[],
    fehlermeldung: undefined,
    fehlermeldungen: [] as Fehlermeldung[],
    ok: false,
    inner: undefined,
    innerFields: undefined,
    signerCert: undefined,
    signingTime: undefined,
    recipientEmails: undefined,
    checks,
  };

  let outer: mime.HeaderBlock;
  try {
    outer = mime.readHeaderBlock(raw);
  } catch (err) {
    check('komle-version', false, `header unreadable (${errorText(err)}): not a KOM-LE message`);
    return { ...none, komle: false };
  }
  const version = mime.findField(outer.fields, 'X-KOM-LE-Version')?.value;
  const withOuter = { ...none, outerFields: outer.fields, komLeVersion: version };
  if (version === undefined) {
    check('komle-version', false, 'no X-KOM-LE-Version header: not a KOM-LE message');
    return { ...withOuter, komle: false };
  }
  const supported = (KOMLE_VERSIONS as readonly string[]).includes(version.trim());
  if (!check('komle-version', supported, `X-KOM-LE-Version ${version}${supported ? '' : ` (supported: ${KOMLE_VERSIONS.join(', ')})`}`)) {
    return { ...withOuter, komle: true, versionUnsupported: true, fehlermeldung: '4008', fehlermeldungen: ['4008'] };
  }
  const undecrypted = (decryption: DecryptionResult, fehlermeldung: Fehlermeldung): OpenResult => ({
    ...withOuter,
    komle: true,
    decryption,
    fehlermeldung,
    fehlermeldungen: [fehlermeldung],
  });

  const envelopeBody = pkcs7Body(raw, ENVELOPE_TYPES, 'outer message');
  if (!envelopeBody.ok) {
    check('outer-format', false, envelopeBody.detail);
    return undecrypted('02', '4010');
  }
  check('outer-format', true, `application/pkcs7-mime, ${envelopeBody.bytes.length} bytes of CMS`);

  let recipientIds: RecipientId[] | undefined;
  if (opts.recipientAddress !== undefined) {
    const pick = fetchingUsersRecipients(envelopeBody.bytes, opts.recipientAddress);
    check('recipient-key', pick.ok, pick.detail);
    if (!pick.ok) return undecrypted(pick.code, pick.code === '01' ? '4009' : '4010');
    recipientIds = pick.ids;
  }

  let decrypted: DecryptedEnvelope;
  try {
    decrypted = await opts.konnektor.decryptDocument(opts.context, { document: envelopeBody.bytes, ...(recipientIds ? { recipientIds } : {}) });
  } catch (err) {
    if (isContextError(err)) throw err;
    const [code, fehler] = decryptionFailure(err);
    check('decryption', false, errorText(err));
    return undecrypted(code, fehler);
  }
  check('decryption', true, `AES-GCM content decrypted and authenticated (${decrypted.recipientInfoCount} RecipientInfos)`);

  const decryptedResult = (results: readonly IntegrityResult[], extra: Partial<OpenResult> = {}): OpenResult => {
    const sorted = [...new Set(results)].sort((a, b) => RESULT_ORDER.indexOf(a) - RESULT_ORDER.indexOf(b));
    const fehlermeldungen = [...(sorted.includes('08') ? ['4014' as const] : []), ...(sorted.includes('09') ? ['4015' as const] : [])];
    return {
      ...withOuter,
      komle: true,
      decryption: '00',
      integrity: sorted[0],
      integrityResults: sorted,
      fehlermeldung: fehlermeldungen[0],
      fehlermeldungen,
      ok: sorted.every((r) => INTEGRITY_RESULTS[r].valid),
      ...extra,
    };
  };

  const signedBody = signedDataOf(decrypted.content);
  if (!signedBody.ok) {
    check('signed-data-format', false, signedBody.detail);
    return decryptedResult([signedBody.code]);
  }
  check('signed-data-format', true, 'application/pkcs7-mime signed-data');

  let verification: SignedDataVerification;
  try {
    verification = await opts.konnektor.verifyDocument(opts.context, { document: signedBody.bytes, at: opts.at });
  } catch (err) {
    if (isContextError(err)) throw err;
    if (err instanceof CmsError) {
      checks[checks.length - 1] = { name: 'signed-data-format', ok: false, detail: `SignedData: ${err.message}` };
      return decryptedResult(['04']);
    }
    const unavailable = err instanceof KonnektorError && err.code === 'unavailable';
    check('signature', false, `the Konnektor could not verify: ${errorText(err)}`);
    return decryptedResult([unavailable ? 'X01' : '06']);
  }
  const innerMessage = unwrapRfc822(verification.content);
  let innerBlock: mime.HeaderBlock | undefined;
  try {
    innerBlock = mime.readHeaderBlock(innerMessage);
  } catch (err) {
    checks[checks.length - 1] = { name: 'signed-data-format', ok: false, detail: `signed content is no RFC 5322 message (${errorText(err)})` };
  }
  const signerCert = verification.signerCert;
  const withInner = {
    inner: innerBlock ? innerMessage : undefined,
    innerFields: innerBlock?.fields,
    signerCert,
    signingTime: verification.signingTime,
    recipientEmails: { signed: verification.recipientEmails, unauthenticated: decrypted.recipientEmails },
  };
  if (!innerBlock) return decryptedResult(['04'], withInner);

  // Every check runs; each failure adds its code (the header repeats for several, A_23165).
  const results: IntegrityResult[] = [];
  const v = verification.checks;
  check('signature', v.signature.ok, v.signature.detail) || results.push('02');
  check('digest', v.digest.ok, v.digest.detail) || results.push('02');
  check('validity', v.validity.ok, v.validity.detail) || results.push('05');
  check('chain', v.chain.ok, v.chain.detail) || results.push('05');
  check('key-usage', v.keyUsage.ok, v.keyUsage.detail) || results.push('05');
  const emails = recipientEmailsCheck(verification.recipientEmails, decrypted.recipientEmails);
  check('recipient-emails', emails.ok, emails.detail) || results.push('09');
  const headers = headersCheck(outer.fields, innerBlock.fields);
  check('headers', headers.ok, headers.detail) || results.push('08');
  const sender = signerSenderCheck(signerCert, innerBlock.fields);
  check('signer-sender', sender.ok, sender.detail) || results.push('X02');
  return decryptedResult(results.length ? results : ['01'], withInner);
}

type SignedDataBody = { ok: true; bytes: Uint8Array } | { ok: false; code: '03' | '04'; detail: string };

/**
 * The SignedData inside the decrypted content: an application/pkcs7-mime signed-data entity
 * (binary, as KOM-LE-A_2299-01 writes it, or base64), or bare DER. Content that is no
 * pkcs7-mime entity at all carries no signature (03); a broken one is the wrong format (04).
 */
function signedDataOf(content: Uint8Array): SignedDataBody {
  const body = pkcs7Body(content, SIGNED_TYPES, 'encrypted content', true);
  if (body.ok) return { ok: true, bytes: body.bytes };
  let mediaType: string | undefined;
  try {
    mediaType = mime.parseContentType(mime.findField(mime.readHeaderBlock(content, 64 * 1024).fields, 'Content-Type')?.value).mediaType;
  } catch {
    mediaType = undefined;
  }
  const signed = mediaType === 'application/pkcs7-mime' || mediaType === 'application/x-pkcs7-mime';
  return { ok: false, code: signed ? '04' : '03', detail: signed ? body.detail : `the encrypted content is not signed (${mediaType ?? 'no MIME header'}): ${body.detail}` };
}

type RecipientPick = { ok: true; ids: RecipientId[]; detail: string } | { ok: false; code: '01' | '02'; detail: string };

/** KOM-LE-A_2043: the RecipientIdentifiers recipient-emails gives the fetching user's address (case-insensitive, as gematik's FAQ says). */
function fetchingUsersRecipients(envelope: Uint8Array, address: string): RecipientPick {
  let entries: RecipientEmail[];
  try {
    entries = envelopeRecipientEmails(envelope);
  } catch (err) {
    return { ok: false, code: '02', detail: `AuthEnvelopedData unreadable: ${errorText(err)}` };
  }
  if (entries.length === 0) return { ok: false, code: '02', detail: 'the AuthEnvelopedData carries no recipient-emails attribute (KOM-LE-A_2114-01)' };
  const key = address.toLowerCase();
  const ids = entries.filter((e) => e.email.toLowerCase() === key).map((e) => e.rid);
  if (ids.length === 0) {
    return { ok: false, code: '01', detail: `recipient-emails names no certificate for ${address} (it names ${entries.map((e) => e.email).join(', ')})` };
  }
  return { ok: true, ids, detail: `recipient-emails names ${ids.length} certificate(s) for ${address}` };
}

/** The inner `message/rfc822` entity's body; content without that wrapper is taken as the message itself. */
function unwrapRfc822(content: Uint8Array): Uint8Array {
  try {
    const block = mime.readHeaderBlock(content, 64 * 1024);
    const type = mime.parseContentType(mime.findField(block.fields, 'Content-Type')?.value);
    if (type.mediaType === 'message/rfc822' && block.hasBody && block.fields.every((f) => f.key.startsWith('content-') || f.key === 'mime-version')) {
      return content.subarray(block.bodyStart);
    }
  } catch {
    // not a MIME entity header: the content is the message
  }
  return content;
}

function decryptionFailure(err: unknown): [DecryptionResult, Fehlermeldung] {
  if (err instanceof KonnektorError) {
    if (err.code === 'unavailable') return ['03', '4011'];
    // KOM-LE-A_2047-02: a failure Tab_Fehlertext_Entschl has no row for gets a vendor code starting with X;
    // X-KIM-Fehlermeldung takes the nearest row of Tab_Fehlercodes (the card's key could not be used).
    if (err.code === 'refused') return ['X02', '4009'];
    return ['01', '4009'];
  }
  if (err instanceof CmsError) {
    switch (err.code) {
      case 'no-recipient':
      case 'decrypt-failed':
        return ['01', '4009'];
      case 'tag-mismatch':
        return ['X01', '4014'];
      default:
        return ['02', '4010'];
    }
  }
  // Anything else came from the Konnektor's transport, not from the message.
  return ['03', '4011'];
}

function recipientEmailsCheck(signed: readonly RecipientEmail[], unauth: readonly RecipientEmail[]): { ok: boolean; detail: string } {
  if (signed.length === 0) return { ok: false, detail: 'the signed recipient-emails attribute is missing' };
  if (unauth.length === 0) return { ok: false, detail: 'the unauthenticated recipient-emails attribute is missing' };
  const cmp = compareRecipientEmails(signed, unauth);
  if (cmp.equal) return { ok: true, detail: `signed and unauthenticated copies agree (${signed.length} entries)` };
  const list = (es: readonly RecipientEmail[]): string => es.map((e) => `${e.email} (${describeRecipientId(e.rid)})`).join('; ');
  const parts = [cmp.onlyInFirst.length ? `only signed: ${list(cmp.onlyInFirst)}` : '', cmp.onlyInSecond.length ? `only unauthenticated: ${list(cmp.onlyInSecond)}` : ''];
  return { ok: false, detail: `copies differ: ${parts.filter(Boolean).join(' / ')}` };
}

/**
 * KOM-LE-A_2048-01: from, sender, reply-to, to and cc of the outer message must equal the signed
 * inner ones (folding and whitespace aside). Date, Message-ID and X-KIM-* are repeated outside
 * too (KOM-LE-A_2098-03) but are not part of the check: other products rewrite the Date's form.
 */
function headersCheck(outer: readonly mime.HeaderField[], inner: readonly mime.HeaderField[]): { ok: boolean; detail: string } {
  const values = (fields: readonly mime.HeaderField[], name: string): string[] => mime.findFields(fields, name).map((f) => mime.comparableValue(f.value));
  const differing: string[] = [];
  for (const name of COMPARED_FIELDS) {
    const a = values(outer, name);
    const b = values(inner, name);
    if (a.length !== b.length || a.some((v, i) => v !== b[i])) differing.push(`${name} (outer ${JSON.stringify(a)}, inner ${JSON.stringify(b)})`);
  }
  return differing.length === 0
    ? { ok: true, detail: `${COMPARED_FIELDS.join(', ')} agree outside and inside` }
    : { ok: false, detail: `outer and inner differ in ${differing.join('; ')}` };
}

/**
 * When the signer certificate names mail addresses (rfc822Name), the inner From must be one of
 * them. SMC-B certificates usually name none (a practice has several KIM addresses); then the
 * check cannot be made here and passes with that said — the directory lookup is the caller's.
 */
function signerSenderCheck(signerCert: Uint8Array, innerFields: readonly mime.HeaderField[]): { ok: boolean; detail: string } {
  const certEmails = signerMailAddresses(signerCert);
  const from = mime.findFields(innerFields, 'From').flatMap((f) => mime.addressesIn(f.value));
  if (certEmails.length === 0) return { ok: true, detail: 'signer certificate names no mail address: not checked' };
  if (from.length === 0) return { ok: false, detail: 'inner message has no From address' };
  const match = from.find((a) => certEmails.includes(a));
  return match
    ? { ok: true, detail: `sender ${match} is named in the signer certificate` }
    : { ok: false, detail: `sender ${from.join(', ')} is not among the signer certificate's addresses (${certEmails.join(', ')})` };
}

function errorText(err: unknown): string {
  if (err instanceof CmsError || err instanceof KonnektorError) return `${err.code}: ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}
