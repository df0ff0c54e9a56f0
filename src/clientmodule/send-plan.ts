import { mime } from '../wire/index.js';
import { missingInnerFields } from '../crypto/index.js';
import type { DirectoryRecord, EncryptionCertificate } from './cert-lookup.js';
import type { DroppedRecipient } from './dsn.js';

// What the client module does with a message's recipients before sealing (gemSpec_CM_KOMLE
// 3.3.4.1.1 and the KIM FAQ "Umgang mit dem RCPT TO"): which RCPT addresses can be sent to, what
// the inner message's To/Cc/Bcc say afterwards, and which copies go out. Pure: no I/O.

export type RecipientVerdict = { ok: true; address: string; certificates: EncryptionCertificate[] } | ({ ok: false } & DroppedRecipient);

/**
 * Whether a recipient can be encrypted for, from its directory record:
 * - entries with different telematikIDs hold certificates for the address: 4003;
 * - no usable ENC certificate (none, expired, not RSA, no keyEncipherment): 4004 (KOM-LE-A_2024-01);
 * - its certificates carry different Telematik-IDs (Admission registrationNumber; a certificate
 *   without one counts as one more value): 4005 (KOM-LE-A_2178, KOM-LE-A_2192-01).
 * Otherwise every certificate is used (KOM-LE-A_2022).
 */
/**
 * The certificates of a directory record this Konnektor may encrypt for: all of them, RSA and
 * ECC, when it can do ECC (so recipients without ECC can still decrypt), else the RSA ones only
 * (A_17472; §3.3.4.1.1). An address with ECC certificates only is then one without a certificate.
 */
export function usableWithKonnektor(record: DirectoryRecord, eccCapable: boolean): DirectoryRecord {
  if (eccCapable || record.certificates.every((c) => c.kind === 'rsa')) return record;
  const certificates = record.certificates.filter((c) => c.kind === 'rsa');
  const entryTelematikIds = [...new Set(certificates.map((c) => c.entryTelematikId ?? ''))].filter((t) => t !== '');
  return { ...record, certificates, entryTelematikIds };
}

export function judgeRecipient(record: DirectoryRecord): RecipientVerdict {
  const { address, certificates } = record;
  if (record.entryTelematikIds.length > 1) {
    return { ok: false, address, code: '4003', status: '5.7.0', diagnostic: `the directory holds entries with different Telematik-IDs for this address (${record.entryTelematikIds.join(', ')})` };
  }
  if (certificates.length === 0) return { ok: false, address, code: '4004', status: '5.7.0', diagnostic: 'no usable encryption certificate in the directory' };
  const ids = new Set(certificates.map((c) => c.telematikId ?? '(none)'));
  if (ids.size > 1) {
    return { ok: false, address, code: '4005', status: '5.7.0', diagnostic: `the encryption certificates carry different Telematik-IDs (${[...ids].join(', ')})` };
  }
  return { ok: true, address, certificates };
}

export interface CopyPlan {
  /** The message every copy signs: To/Cc reduced, Bcc gone, Message-ID and Dienstkennung present. */
  inner: Buffer;
  /** Sendable recipients named in To or Cc: one copy for all of them. */
  visible: string[];
  /** Sendable recipients named nowhere (Bcc, or only in RCPT TO): one copy each. */
  hidden: string[];
  /** Addresses taken out of To/Cc because they were not sendable RCPT addresses. */
  removed: string[];
}

const RECIPIENT_FIELDS = ['to', 'cc'];

/**
 * Rewrites the header for sending to `sendable` (the RCPT addresses that passed; compared
 * case-insensitively):
 * - To and Cc keep only sendable addresses (A_23174, KOM-LE-A_2028); everything else of a kept
 *   item stays as written; a field with no address left is removed (no `undisclosed-recipients:;`
 *   is made up — RFC 5322 needs no To);
 * - Bcc goes, from every copy: the recipient-emails attribute and the RecipientInfos, readable
 *   by every recipient of a copy, name everyone the copy is for, so a hidden recipient gets a
 *   copy of its own and no copy names it (and outer and inner header still agree, A_2098-03);
 * - a missing Message-ID is added (every copy carries the same one) and a missing
 *   X-KIM-Dienstkennung gets the default (A_19488-02), so sealing has nothing left to add.
 * A header that needs none of this is not copied.
 */
/** `sender`: the sending account's address (the added Message-ID takes its domain). */
export function planCopies(message: Buffer, block: mime.HeaderBlock, sendable: readonly string[], sender: string): CopyPlan {
  const allowed = new Set(sendable.map((a) => a.toLowerCase()));
  const named = new Set<string>();
  const removed: string[] = [];
  const drop = new Set<mime.HeaderField>();
  const replace = new Map<mime.HeaderField, string>();
  for (const f of block.fields) {
    if (f.key === 'bcc') {
      drop.add(f);
      continue;
    }
    if (!RECIPIENT_FIELDS.includes(f.key)) continue;
    const items = mime.parseAddressList(fieldText(f));
    const kept = mime.filterAddressList(items, (a) => allowed.has(a));
    for (const a of mime.addressesOf(kept.items)) named.add(a);
    if (kept.removed.length === 0) continue;
    removed.push(...kept.removed);
    if (kept.hasAddress) replace.set(f, mime.formatAddressField(f.name, kept.items));
    else drop.add(f);
  }
  const { prepend, append } = missingInnerFields(block.fields, sender);
  const inner = mime.editHeader(message, block, { drop, replace, prepend, append });
  return { inner, visible: sendable.filter((a) => named.has(a.toLowerCase())), hidden: sendable.filter((a) => !named.has(a.toLowerCase())), removed };
}

/**
 * Why the message's From or Sender names someone other than the sending account, or null. The
 * signature makes the message the account's own (signer-sender check at the recipient,
 * KOM-LE-A_2048-01, which passes for SMC-B certificates naming no address), so every address in
 * From — there must be one — and in a Sender field must be the login's.
 */
export function senderFieldProblem(block: mime.HeaderBlock, account: string): string | null {
  const own = account.toLowerCase();
  const from = mime.findFields(block.fields, 'From').flatMap((f) => mime.addressesIn(f.value));
  if (from.length === 0) return `the message has no From address; it must be ${account}`;
  for (const name of ['From', 'Sender']) {
    const other = mime.findFields(block.fields, name).flatMap((f) => mime.addressesIn(f.value)).find((a) => a !== own);
    if (other !== undefined) return `${name} names ${other}; a message sent as ${account} may name only that address there`;
  }
  return null;
}

/** The field's value as written (folding kept), without its name and final line break. */
function fieldText(f: mime.HeaderField): string {
  const raw = Buffer.from(f.raw).toString('latin1');
  return raw.slice(raw.indexOf(':') + 1).replace(/\r?\n$/, '');
}
