import { randomUUID } from 'node:crypto';
import { mime } from '../../wire/index.js';
import { recipientIdOf, type EnvelopeRecipient, type RecipientEmail, type SignatureSchemeName } from '../cms/index.js';
import { KonnektorError, konnektorFor, type Crypt, type Konnektor, type KonnektorContext } from '../konnektor/index.js';
import {
  CM_VERSION,
  CM_VERSION_PATTERN,
  COPIED_FIELDS,
  DEFAULT_DATA_TIME_TO_LIVE_DAYS,
  DEFAULT_DIENSTKENNUNG,
  DEFAULT_KOMLE_VERSION,
  KON_VERSION_PATTERN,
  KOMLE_SUBJECT,
  KOMLE_VERSIONS,
  OUTER_CONTENT_TYPE,
  OWN_KIM_FIELDS,
  P7M_DISPOSITION,
  PT_VERSION,
  PT_VERSION_PATTERN,
  RESULT_FIELDS,
  type KomLeVersion,
} from './constants.js';
import { rfc822Entity, signedDataEntity } from './entity.js';
import { KomleError } from './errors.js';

export interface SealOptions {
  /** Signs and encrypts; the card is chosen by `context`. */
  readonly konnektor: Konnektor;
  readonly context: KonnektorContext;
  /** The sender's KIM address (the account's): its recipient-emails entry names the sender's own ENC certificate. */
  readonly senderEmail: string;
  /** The recipients' encryption certificates, each with the address it was looked up for. */
  readonly recipients: readonly EnvelopeRecipient[];
  /** X-KOM-LE-Version: 1.0 (default: what every message without KAS content needs, KOM-LE-A_2100-02) or 1.5. */
  readonly komLeVersion?: KomLeVersion;
  /**
   * Make bare LF and bare CR into CRLF before signing (the inner message is signed in canonical
   * form). For messages from files (the CLI); the SMTP path has CRLF already (its DATA check
   * refuses bare LF) and leaves this off, so it pays no scan.
   */
  readonly canonicalise?: boolean;
  /** The sending account's dataTimeToLive; Expires = send time + this. */
  readonly dataTimeToLiveDays?: number;
  /** The send time (default now). */
  readonly now?: Date;
  readonly cmVersion?: string;
  readonly ptVersion?: string;
  /** Signature scheme of an RSA signature; default RSASSA-PSS. */
  readonly scheme?: SignatureSchemeName;
  /**
   * Which OSIG key signs (`clientModule.signatureKey`): `rsa` (default) as KOM-LE-A_2020 says —
   * not every recipient can verify ECDSA yet —, `ecc` (needs an ECC-capable Konnektor), or
   * `rsa-else-ecc` for a card that has no RSA key any more.
   */
  readonly signatureKey?: SignatureKeyChoice;
}

export type SignatureKeyChoice = 'rsa' | 'ecc' | 'rsa-else-ecc';

export interface SealedMessage {
  /** The outer message, ready for SMTP (CRLF line ends). */
  readonly message: Buffer;
  /** Where its base64 body starts: from here on it is in SMTP's line form already (for encodeDataSection). */
  readonly bodyStart: number;
  readonly messageId: string;
  /** The recipient-emails list (recipients and the sender) in both copies. */
  readonly recipientEmails: readonly RecipientEmail[];
  /** Whether the PS's message had no Message-ID and one was prepended to it. */
  readonly addedMessageId: boolean;
}

/**
 * Seals the PS's message (RFC 5322 bytes, CRLF) into a KOM-LE message (gemSMIME_KOMLE): the
 * message as `message/rfc822` opaque-signed by the card (SignedData with the signed
 * recipient-emails), that as application/pkcs7-mime, binary, encrypted for every recipient and
 * the sender (AuthEnvelopedData with the unauthenticated recipient-emails), wrapped in an outer
 * message whose headers repeat the inner ones (KOM-LE-A_2098-03). Only a missing Message-ID and a
 * missing X-KIM-Dienstkennung are added to the inner message. Which recipients a copy is for,
 * and what its To/Cc/Bcc say, is the caller's business (the client module: docs/client-module.md).
 */
export async function sealMessage(message: Uint8Array, opts: SealOptions): Promise<SealedMessage> {
  const version = opts.komLeVersion ?? DEFAULT_KOMLE_VERSION;
  if (!KOMLE_VERSIONS.includes(version)) throw new KomleError('invalid-input', `X-KOM-LE-Version ${String(version)} is not one of ${KOMLE_VERSIONS.join(', ')}`);
  const cmVersion = opts.cmVersion ?? CM_VERSION;
  const ptVersion = opts.ptVersion ?? PT_VERSION;
  if (!CM_VERSION_PATTERN.test(cmVersion)) throw new KomleError('invalid-input', `X-KIM-CMVersion ${JSON.stringify(cmVersion)} does not match VendorID_x.y.z[-n]`);
  if (!PT_VERSION_PATTERN.test(ptVersion)) throw new KomleError('invalid-input', `X-KIM-PTVersion ${JSON.stringify(ptVersion)} does not match x.y.z[-n]`);
  // With one Konnektor per practice, the facts are those of the one serving this context.
  const serving = konnektorFor(opts.konnektor, opts.context);
  const konVersion = serving.productInfo;
  if (!KON_VERSION_PATTERN.test(konVersion)) throw new KomleError('invalid-input', `X-KIM-KONVersion ${JSON.stringify(konVersion)} does not match <Productname><ProductType><ProductTypeVersion><HWVersion><FWVersion>`);
  const ttlDays = opts.dataTimeToLiveDays ?? DEFAULT_DATA_TIME_TO_LIVE_DAYS;
  if (!Number.isFinite(ttlDays) || ttlDays <= 0) throw new KomleError('invalid-input', `dataTimeToLive ${ttlDays} days is not positive`);
  if (opts.recipients.length === 0) throw new KomleError('invalid-input', 'no recipient to encrypt for');
  const now = opts.now ?? new Date();

  const input = opts.canonicalise ? mime.canonicalLineEnds(message) : message;
  let block: mime.HeaderBlock;
  try {
    block = mime.readHeaderBlock(input);
  } catch (err) {
    throw new KomleError('invalid-message', `the message's header cannot be read: ${err instanceof Error ? err.message : String(err)}`);
  }
  // The only changes to the PS's message: a Message-ID in front when it has none (the outer one
  // must equal it, KOM-LE-A_2101-01), and the default X-KIM-Dienstkennung at the end of its
  // header when the PS set none (A_19488-02: into the original message, before signing).
  const addedMessageId = !mime.findField(block.fields, 'Message-ID');
  const { prepend, append } = missingInnerFields(block.fields, opts.senderEmail);
  let inner: Uint8Array = input;
  let fields = block.fields;
  if (prepend.length || append.length) {
    inner = mime.editHeader(input, block, { prepend, append });
    fields = mime.readHeaderBlock(inner).fields;
  }
  const messageIdField = mime.findField(fields, 'Message-ID')!;

  // The sender is a recipient too (its own RecipientInfos, RSA and ECC), so its sent copy stays readable.
  const senderCerts = await ownEncryptionCertificates(opts.konnektor, opts.context, serving.eccCapable);
  const recipients = uniqueRecipients([...opts.recipients, ...senderCerts.map((certDer) => ({ certDer, email: opts.senderEmail }))]);
  const recipientEmails = recipients.map((r) => ({ email: r.email, rid: recipientIdOf(r.certDer) }));

  // Both contents are made here for the call and not used again: handed over (no copies).
  const content = rfc822Entity(inner);
  const sign = (crypt: Crypt) => opts.konnektor.signDocument(opts.context, { content, recipientEmails, scheme: opts.scheme, signingTime: now, handOver: true, crypt });
  const choice = opts.signatureKey ?? 'rsa';
  let signed: Uint8Array;
  if (choice === 'rsa-else-ecc' && serving.eccCapable) {
    try {
      signed = await sign('RSA');
    } catch (err) {
      if (!(err instanceof KonnektorError) || err.code !== 'key-not-available') throw err;
      signed = await sign('ECC');
    }
  } else {
    signed = await sign(choice === 'ecc' ? 'ECC' : 'RSA');
  }
  const envelope = await opts.konnektor.encryptDocument(opts.context, { content: signedDataEntity(signed), recipients, handOver: true });

  const head: string[] = [];
  for (const name of COPIED_FIELDS) for (const f of mime.findFields(fields, name)) head.push(mime.rawWithCrlf(f));
  head.push(mime.rawWithCrlf(messageIdField));
  head.push(mime.formatField('Subject', KOMLE_SUBJECT));
  head.push(mime.formatField('X-KOM-LE-Version', version));
  // Every X-KIM-* field of the inner message (the Dienstkennung among them), not our own ones.
  for (const f of fields) if (f.key.startsWith('x-kim-') && !isOwnField(f.key)) head.push(mime.rawWithCrlf(f));
  head.push(mime.formatField('X-KIM-CMVersion', cmVersion));
  head.push(mime.formatField('X-KIM-PTVersion', ptVersion));
  head.push(mime.formatField('X-KIM-KONVersion', konVersion));
  head.push(mime.formatField('Expires', mime.formatRfc5322Date(new Date(now.getTime() + ttlDays * 86_400_000))));
  head.push('MIME-Version: 1.0\r\n');
  head.push(mime.formatField('Content-Type', OUTER_CONTENT_TYPE));
  head.push('Content-Transfer-Encoding: base64\r\n');
  head.push(mime.formatField('Content-Disposition', P7M_DISPOSITION));
  head.push('\r\n');
  const headText = head.join('');
  return {
    message: mime.encodeBase64Lines(envelope, headText),
    bodyStart: Buffer.byteLength(headText, 'latin1'),
    messageId: messageIdField.value,
    recipientEmails,
    addedMessageId,
  };
}

/**
 * The fields sealing adds to the PS's message when it lacks them: a Message-ID in front, the
 * default X-KIM-Dienstkennung at the end of the header. The client module adds them once before
 * making several copies, so that every copy carries the same Message-ID.
 */
export function missingInnerFields(fields: readonly mime.HeaderField[], senderEmail: string): { prepend: string[]; append: string[] } {
  return {
    prepend: mime.findField(fields, 'Message-ID') ? [] : [mime.formatField('Message-ID', `<${randomUUID()}@${senderEmail.split('@')[1] ?? 'postamt.invalid'}>`)],
    append: mime.findField(fields, 'X-KIM-Dienstkennung') ? [] : [mime.formatField('X-KIM-Dienstkennung', DEFAULT_DIENSTKENNUNG)],
  };
}

/** Our own version fields and result fields never come from the PS's message. */
export function isOwnField(key: string): boolean {
  return (OWN_KIM_FIELDS as readonly string[]).includes(key) || (RESULT_FIELDS as readonly string[]).includes(key);
}

/**
 * The card's own ENC certificates: RSA, and ECC where the Konnektor can use it (A_17472). A card
 * may lack one kind (an ECC-only card after the RSA shutdown), not both.
 */
async function ownEncryptionCertificates(konnektor: Konnektor, context: KonnektorContext, eccCapable: boolean): Promise<Uint8Array[]> {
  const kinds: Crypt[] = eccCapable ? ['RSA', 'ECC'] : ['RSA'];
  const found: Uint8Array[] = [];
  let missing: KonnektorError | undefined;
  for (const crypt of kinds) {
    try {
      found.push(await konnektor.readCardCertificate(context, 'C.ENC', crypt));
    } catch (err) {
      if (!(err instanceof KonnektorError) || err.code !== 'key-not-available') throw err;
      missing = err;
    }
  }
  if (found.length === 0) throw missing!;
  return found;
}

/** One RecipientInfo per (address, certificate): a message to oneself does not list the sender twice. */
function uniqueRecipients(list: readonly EnvelopeRecipient[]): EnvelopeRecipient[] {
  const seen = new Set<string>();
  return list.filter((r) => {
    const key = `${r.email}\u0000${Buffer.from(r.certDer.buffer, r.certDer.byteOffset, r.certDer.byteLength).toString('latin1')}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
