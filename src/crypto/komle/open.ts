import { mime } from '../../wire/index.js';
import { CmsError, compareRecipientEmails, describeRecipientId, type DecryptedEnvelope, type RecipientEmail, type SignedDataVerification } from '../cms/index.js';
import { KonnektorError, isContextError, type Konnektor, type KonnektorContext } from '../konnektor/index.js';
import { COPIED_FIELDS, KOMLE_VERSIONS, OWN_KIM_FIELDS, RESULT_FIELDS } from './constants.js';
import { pkcs7Body } from './entity.js';
import { signerMailAddresses } from './signer-addresses.js';
import type { DecryptionResult, Fehlermeldung, IntegrityResult } from './result-codes.js';

export type OpenCheckName =
  | 'komle-version'
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
}

export interface OpenResult {
  /** False: no X-KOM-LE-Version, the message is passed to the PS unchanged. */
  readonly komle: boolean;
  readonly komLeVersion: string | undefined;
  /** Undefined only when `komle` is false. */
  readonly decryption: DecryptionResult | undefined;
  /** Undefined unless decryption succeeded. */
  readonly integrity: IntegrityResult | undefined;
  /** X-KIM-Fehlermeldung for the failure message or the result headers; undefined when none applies. */
  readonly fehlermeldung: Fehlermeldung | undefined;
  /** Decrypted, and every integrity check passed. */
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

/** Integrity codes of the verification checks, and the order in which the first failure decides. */
const VERIFY_CODES = { signature: '01', digest: '02', validity: '03', chain: '04', keyUsage: '05' } as const;

/**
 * Opens a received message (gemSpec_CM_KOMLE, receiving): recognises KOM-LE by X-KOM-LE-Version,
 * decrypts through the Konnektor, verifies the inner SignedData through the Konnektor, compares
 * the two recipient-emails copies, the outer and inner headers and the signer with the sender.
 * Never throws for anything in the message; throws only the Konnektor's context errors (the
 * caller's MandantId/ClientSystem/Workplace are not allowed), which are no property of the message.
 */
export async function openMessage(raw: Uint8Array, opts: OpenOptions): Promise<OpenResult> {
  const checks: OpenCheck[] = [];
  const check = (name: OpenCheckName, ok: boolean, detail: string): boolean => {
    checks.push({ name, ok, detail });
    return ok;
  };
  const base = {
    komLeVersion: undefined as string | undefined,
    outerFields: [] as readonly mime.HeaderField[],
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
    return { ...base, komle: false, decryption: undefined, integrity: undefined, fehlermeldung: undefined, ok: false };
  }
  const version = mime.findField(outer.fields, 'X-KOM-LE-Version')?.value;
  const withOuter = { ...base, outerFields: outer.fields, komLeVersion: version };
  if (version === undefined) {
    check('komle-version', false, 'no X-KOM-LE-Version header: not a KOM-LE message');
    return { ...withOuter, komle: false, decryption: undefined, integrity: undefined, fehlermeldung: undefined, ok: false };
  }
  const undecrypted = (decryption: DecryptionResult, fehlermeldung: Fehlermeldung): OpenResult => ({
    ...withOuter,
    komle: true,
    decryption,
    integrity: undefined,
    fehlermeldung,
    ok: false,
  });
  if (!check('komle-version', (KOMLE_VERSIONS as readonly string[]).includes(version), `X-KOM-LE-Version ${version}${(KOMLE_VERSIONS as readonly string[]).includes(version) ? '' : ` (supported: ${KOMLE_VERSIONS.join(', ')})`}`)) {
    return undecrypted('02', '4008');
  }

  const envelopeBody = pkcs7Body(raw, ENVELOPE_TYPES, 'outer message');
  if (!envelopeBody.ok) {
    check('outer-format', false, envelopeBody.detail);
    return undecrypted('02', '4010');
  }
  check('outer-format', true, `application/pkcs7-mime, ${envelopeBody.bytes.length} bytes of CMS`);

  let decrypted: DecryptedEnvelope;
  try {
    decrypted = await opts.konnektor.decryptDocument(opts.context, { document: envelopeBody.bytes });
  } catch (err) {
    if (isContextError(err)) throw err;
    const [code, fehler] = decryptionFailure(err);
    check('decryption', false, errorText(err));
    return undecrypted(code, fehler);
  }
  check('decryption', true, `AES-GCM content decrypted and authenticated (${decrypted.recipientInfoCount} RecipientInfos)`);

  const decryptedResult = (integrity: IntegrityResult, extra: Partial<OpenResult> = {}): OpenResult => ({
    ...withOuter,
    komle: true,
    decryption: '00',
    integrity,
    fehlermeldung: integrity === '09' ? '4015' : integrity === '08' ? '4014' : undefined,
    ok: integrity === '00',
    ...extra,
  });

  const signedBody = pkcs7Body(decrypted.content, SIGNED_TYPES, 'encrypted content', true);
  if (!signedBody.ok) {
    check('signed-data-format', false, signedBody.detail);
    return decryptedResult('07');
  }
  check('signed-data-format', true, 'application/pkcs7-mime signed-data');

  let verification: SignedDataVerification;
  try {
    verification = await opts.konnektor.verifyDocument(opts.context, { document: signedBody.bytes, at: opts.at });
  } catch (err) {
    if (isContextError(err)) throw err;
    if (err instanceof CmsError) {
      checks[checks.length - 1] = { name: 'signed-data-format', ok: false, detail: `SignedData: ${err.message}` };
      return decryptedResult('07');
    }
    check('signature', false, `the Konnektor could not verify: ${errorText(err)}`);
    return decryptedResult('X1');
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
  if (!innerBlock) return decryptedResult('07', withInner);

  let integrity: IntegrityResult | undefined;
  const fail = (code: IntegrityResult): void => {
    integrity ??= code;
  };
  check('signature', verification.checks.signature.ok, verification.checks.signature.detail) || fail(VERIFY_CODES.signature);
  check('digest', verification.checks.digest.ok, verification.checks.digest.detail) || fail(VERIFY_CODES.digest);
  check('validity', verification.checks.validity.ok, verification.checks.validity.detail) || fail(VERIFY_CODES.validity);
  check('chain', verification.checks.chain.ok, verification.checks.chain.detail) || fail(VERIFY_CODES.chain);
  check('key-usage', verification.checks.keyUsage.ok, verification.checks.keyUsage.detail) || fail(VERIFY_CODES.keyUsage);

  const emails = recipientEmailsCheck(verification.recipientEmails, decrypted.recipientEmails);
  check('recipient-emails', emails.ok, emails.detail) || fail('09');
  const headers = headersCheck(outer.fields, innerBlock.fields);
  check('headers', headers.ok, headers.detail) || fail('08');
  const sender = signerSenderCheck(signerCert, innerBlock.fields);
  check('signer-sender', sender.ok, sender.detail) || fail('06');

  return decryptedResult(integrity ?? '00', withInner);
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
  if (err instanceof KonnektorError) return err.code === 'unavailable' ? ['03', '4011'] : ['01', '4009'];
  if (err instanceof CmsError) {
    switch (err.code) {
      case 'no-recipient':
      case 'decrypt-failed':
        return ['01', '4009'];
      case 'tag-mismatch':
        return ['02', '4014'];
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

/** Date, From, Sender, Reply-To, To, Cc, Message-ID and the inner X-KIM-* fields must be repeated unchanged outside. */
function headersCheck(outer: readonly mime.HeaderField[], inner: readonly mime.HeaderField[]): { ok: boolean; detail: string } {
  const values = (fields: readonly mime.HeaderField[], name: string): string[] => mime.findFields(fields, name).map((f) => mime.comparableValue(f.value));
  const names = new Set<string>([...COPIED_FIELDS, 'Message-ID']);
  const skip = new Set<string>([...OWN_KIM_FIELDS, ...RESULT_FIELDS]);
  for (const f of inner) if (f.key.startsWith('x-kim-') && !skip.has(f.key)) names.add(f.name);
  const differing: string[] = [];
  const seen = new Set<string>();
  for (const name of names) {
    const key = name.toLowerCase();
    if (seen.has(key)) continue;
    seen.add(key);
    const a = values(outer, name);
    const b = values(inner, name);
    if (a.length !== b.length || a.some((v, i) => v !== b[i])) differing.push(`${name} (outer ${JSON.stringify(a)}, inner ${JSON.stringify(b)})`);
  }
  return differing.length === 0
    ? { ok: true, detail: `${seen.size} header fields agree (${[...seen].join(', ')})` }
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
