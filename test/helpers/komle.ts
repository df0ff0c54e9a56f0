import { createPrivateKey } from 'node:crypto';
import * as asn1js from 'asn1js';
import { SoftwareKonnektor, type CardKey, type KonnektorContext, type SoftwareMandant } from '../../src/crypto/index.js';
import { mime } from '../../src/wire/index.js';
import { createTestPki, type TestIdentity, type TestPki } from './pki.js';

// A two-practice KOM-LE world over the CMS test PKI: practice A sends (OSIG + ENC), practice B
// receives (ENC), each a Mandant of one software Konnektor.

export const CTX_A: KonnektorContext = { mandantId: 'A', clientSystemId: 'KOM_LE', workplaceId: '7' };
export const CTX_B: KonnektorContext = { mandantId: 'B', clientSystemId: 'KOM_LE', workplaceId: '1' };

export function cardKey(id: TestIdentity): CardKey {
  return { certDer: id.certDer, privateKey: createPrivateKey({ key: Buffer.from(id.pkcs8), format: 'der', type: 'pkcs8' }) };
}

export interface KomleWorld {
  pki: TestPki;
  /** Practice A: signer = pki.signer (praxis.sender@…), its own ENC certificate. */
  senderEnc: TestIdentity;
  /** Practice B's ENC identity = pki.recipient (praxis.empfang@…). */
  konnektor: SoftwareKonnektor;
  /** A Konnektor whose Mandant A signs with `signer` instead (expired, foreign …). */
  konnektorSigningWith(signer: TestIdentity): SoftwareKonnektor;
}

export function mandanten(pki: TestPki, senderEnc: TestIdentity, signer: TestIdentity = pki.signer): SoftwareMandant[] {
  return [
    { id: 'A', clientSystems: ['KOM_LE'], workplaces: ['7'], smcb: async () => ({ signature: cardKey(signer), encryption: [cardKey(senderEnc)] }) },
    { id: 'B', clientSystems: ['KOM_LE'], workplaces: ['*'], smcb: async () => ({ encryption: [cardKey(pki.recipient)] }) },
  ];
}

export async function createKomleWorld(): Promise<KomleWorld> {
  const pki = await createTestPki();
  const senderEnc = await pki.issue({ email: pki.signer.email, usage: 'enc' });
  const make = (signer: TestIdentity): SoftwareKonnektor => new SoftwareKonnektor({ trustAnchors: [pki.ca.certDer], mandanten: mandanten(pki, senderEnc, signer) });
  return { pki, senderEnc, konnektor: make(pki.signer), konnektorSigningWith: make };
}

/** A PS message from practice A to `to`, with a folded To, a lower-case message-id field name and 8-bit UTF-8 text. */
export function psMessage(to: readonly string[], body: string | Uint8Array = 'Sehr geehrte Kollegin,\r\nder Befund: Hämoglobin 14,2 g/dl.\r\n'): Buffer {
  const head =
    'Date: Mon, 23 Nov 2026 10:00:00 +0100\r\n' +
    'From: Praxis Sender <praxis.sender@test.kim.telematik>\r\n' +
    `To: ${to.map((t) => `<${t}>`).join(',\r\n  ')}\r\n` +
    'Subject: =?utf-8?Q?Befund_f=C3=BCr_Frau_M=C3=BCller?=\r\n' +
    'message-id: <befund-4711@test.kim.telematik>\r\n' +
    'X-KIM-Dienstkennung: Arztbrief;VHitG-Versand;V1.2\r\n' +
    'X-KIM-Sendersystem: PVS Test;1.0\r\n' +
    'MIME-Version: 1.0\r\n' +
    'Content-Type: text/plain; charset=utf-8\r\n' +
    'Content-Transfer-Encoding: 8bit\r\n\r\n';
  return Buffer.concat([Buffer.from(head, 'latin1'), typeof body === 'string' ? Buffer.from(body, 'utf8') : body]);
}

/** Splits a message into header text and body bytes. */
export function splitMessage(raw: Uint8Array): { head: string; body: Buffer } {
  const block = mime.readHeaderBlock(raw);
  return { head: Buffer.from(raw).subarray(0, block.bodyStart).toString('latin1'), body: Buffer.from(raw).subarray(block.bodyStart) };
}

/** The AuthEnvelopedData DER of an outer message. */
export function envelopeOf(outer: Uint8Array): Buffer {
  const { body } = splitMessage(outer);
  return Buffer.from(body.toString('latin1').replace(/\s+/g, ''), 'base64');
}

/** The outer message with its CMS replaced by `der`. */
export function withEnvelope(outer: Uint8Array, der: Uint8Array): Buffer {
  const { head } = splitMessage(outer);
  return mime.encodeBase64Lines(der, head);
}

/** Replaces the first header field `name` of the outer message (or adds it when `value` is set and none exists). */
export function withHeader(raw: Uint8Array, name: string, value: string | undefined): Buffer {
  const { head, body } = splitMessage(raw);
  const lines = head.replace(/\r\n\r\n$/, '\r\n').split(/\r\n(?![ \t])/).filter((l) => l !== '');
  const i = lines.findIndex((l) => l.toLowerCase().startsWith(name.toLowerCase() + ':'));
  if (value === undefined) lines.splice(i, 1);
  else if (i >= 0) lines[i] = `${name}: ${value}`;
  else lines.push(`${name}: ${value}`);
  return Buffer.concat([Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1'), body]);
}

/** Parses DER with asn1js (independent of ours), lets `edit` change the tree, re-encodes. */
export function rewriteDer(der: Uint8Array, edit: (contentInfo: asn1js.Sequence) => void): Buffer {
  const parsed = asn1js.fromBER(Uint8Array.from(der), { parseEmbedded: false });
  if (parsed.offset === -1) throw new Error('asn1js could not parse');
  edit(parsed.result as asn1js.Sequence);
  return Buffer.from(parsed.result.toBER());
}

/** The SEQUENCE inside ContentInfo's [0]. */
export function innerSequence(root: asn1js.Sequence): asn1js.Sequence {
  return (root.valueBlock.value[1] as asn1js.Constructed).valueBlock.value[0] as asn1js.Sequence;
}
