import type { Command } from 'commander';
import { InvalidArgumentError, Option } from 'commander';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { X509Certificate, type KeyObject } from 'node:crypto';
import { UsageError } from '../../core/index.js';
import {
  DECRYPTION_RESULTS,
  FEHLERMELDUNGEN,
  INTEGRITY_RESULTS,
  DEFAULT_KOMLE_VERSION,
  KOMLE_VERSIONS,
  SoftwareKonnektor,
  certificateMailAddresses,
  loadKeyPath,
  openMessage,
  presentForPrimarySystem,
  readCertificateFile,
  sealMessage,
  cryptOf,
  type CardKey,
  type SoftwareCard,
  type SignatureKeyChoice,
  type EnvelopeRecipient,
  type KomLeVersion,
  type KonnektorContext,
  type IntegrityFailureMode,
} from '../../crypto/index.js';
import { print } from '../context.js';
import { registerMessageTrace } from './trace.js';

// Sealing and opening single KOM-LE messages from files, with a software Konnektor built from the
// given key files: for tests, interop checks and looking at what a practice received.

const CLI_CONTEXT: KonnektorContext = { mandantId: 'cli', clientSystemId: 'cli', workplaceId: 'cli' };

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

function positiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a positive number');
  return n;
}

/** `--to-cert FILE` (address from the certificate) or `--to-cert ADDRESS=FILE`. */
function recipientsFrom(specs: string[]): EnvelopeRecipient[] {
  return specs.flatMap((spec) => {
    const eq = spec.indexOf('=');
    const [address, path] = eq > 0 && spec.slice(0, eq).includes('@') ? [spec.slice(0, eq), spec.slice(eq + 1)] : [undefined, spec];
    if (!existsSync(path)) throw new UsageError(`--to-cert ${spec}: ${path} does not exist`);
    return readCertificateFile(path).map((certDer) => {
      const email = address ?? certificateMailAddresses(certDer)[0];
      if (!email) throw new UsageError(`--to-cert ${spec}: the certificate names no mail address; write --to-cert ADDRESS=${path}`);
      return { certDer, email };
    });
  });
}

function password(o: { password?: string }): string | undefined {
  return o.password ?? process.env['POSTAMT_KEY_PASSWORD'];
}

/**
 * The sender's card from `--from-identity`: a practice directory gives every signature key it
 * holds (osig: RSA, osig-ecc: ECC) and its own ENC certificates (enc.pem, enc-ecc.pem); a .p12
 * or PEM key is one signature key, filed by its kind.
 */
async function fromIdentity(path: string, o: { password?: string; fromEncCert?: string[] }): Promise<{ card: SoftwareCard; encCerts: Uint8Array[] }> {
  const isDir = statSync(path).isDirectory();
  const keys: CardKey[] = [];
  if (isDir) {
    for (const crypt of ['RSA', 'ECC'] as const) {
      if (existsSync(join(path, crypt === 'RSA' ? 'osig.key' : 'osig-ecc.key'))) keys.push(await loadKeyPath(path, { password: password(o), use: 'signature', crypt }));
    }
    if (keys.length === 0) throw new UsageError(`${path} holds no signature key (osig.key or osig-ecc.key)`);
  } else {
    keys.push(await loadKeyPath(path, { password: password(o), use: 'signature' }));
  }
  let encPaths = o.fromEncCert ?? [];
  if (encPaths.length === 0) {
    const dir = isDir ? path : dirname(path);
    encPaths = ['enc.pem', 'enc-ecc.pem'].map((n) => join(dir, n)).filter((p) => existsSync(p));
  }
  if (encPaths.length === 0) throw new UsageError('the sender needs an encryption certificate of its own: give --from-enc-cert, or a practice directory holding enc.pem or enc-ecc.pem');
  const encCerts = encPaths.map((p) => readCertificateFile(p)[0]!);
  const card: SoftwareCard = {
    signature: keys.find((k) => cryptOf(k) === 'RSA'),
    signatureEcc: keys.find((k) => cryptOf(k) === 'ECC'),
    // Sealing reads only the ENC certificates (for the sender's own RecipientInfos), never their
    // private keys; any key of the right kind stands in for it.
    encryption: encCerts.map((certDer) => ({ certDer, privateKey: standIn(certDer, keys) })),
  };
  return { card, encCerts };
}

function standIn(certDer: Uint8Array, keys: CardKey[]): KeyObject {
  const ecc = new X509Certificate(certDer).publicKey.asymmetricKeyType === 'ec';
  return (keys.find((k) => (cryptOf(k) === 'ECC') === ecc) ?? keys[0]!).privateKey;
}

/** `--key`: a practice directory gives its RSA and ECC ENC keys (enc.key, enc-ecc.key, those present); a file is one key. */
async function decryptionKeys(path: string, o: { password?: string; certPath?: string }): Promise<CardKey[]> {
  if (!statSync(path).isDirectory()) return [await loadKeyPath(path, { password: o.password, certPath: o.certPath, use: 'encryption' })];
  const keys: CardKey[] = [];
  for (const crypt of ['RSA', 'ECC'] as const) {
    if (existsSync(join(path, crypt === 'RSA' ? 'enc.key' : 'enc-ecc.key'))) keys.push(await loadKeyPath(path, { password: o.password, use: 'encryption', crypt }));
  }
  if (keys.length === 0) throw new UsageError(`${path} holds no encryption key (enc.key or enc-ecc.key)`);
  return keys;
}

const SIGNATURE_KEYS = ['rsa', 'ecc', 'rsa-else-ecc'] as const;

export function registerMessage(program: Command): void {
  const message = program.command('message').description('seal and open single KOM-LE messages (files in, files out; a software Konnektor over the given keys); trace a message through the service');
  registerMessageTrace(message);

  message
    .command('seal')
    .description('sign and encrypt a message (RFC 5322 file) into a KOM-LE message: SignedData inside AuthEnvelopedData, outer headers per gemSMIME_KOMLE')
    .argument('<in>', 'the message as the primary system would send it (.eml)')
    .requiredOption('--from-identity <dir|p12|key>', "the sender's signature identity: a practice directory of `postamt pki init` (osig.*/osig-ecc.* and enc.pem/enc-ecc.pem), a .p12 file or a PEM key (RSA or ECC) beside its certificate")
    .option('--from-enc-cert <pem>', "the sender's own encryption certificate, RSA or ECC (repeatable; default: enc.pem and enc-ecc.pem beside the identity)", collect)
    .option('--signature-key <which>', 'which OSIG key signs: rsa (KOM-LE-A_2020), ecc (ECDSA), or rsa-else-ecc (RSA when the identity has one)', 'rsa-else-ecc')
    .option('--from <address>', "the sender's KIM address (default: from the signature certificate)")
    .option('--to-cert <[address=]pem>', "a recipient's encryption certificate, RSA or ECC brainpoolP256r1 (repeatable); the address comes from the certificate unless given", collect)
    .option('--password <password>', 'password of a .p12 or encrypted PEM key (default: $POSTAMT_KEY_PASSWORD)')
    .option('--komle-version <v>', `X-KOM-LE-Version (${KOMLE_VERSIONS.join(' or ')}; 1.5 only for messages with KAS content)`, DEFAULT_KOMLE_VERSION)
    .option('--ttl-days <days>', "the account's dataTimeToLive: Expires = now + this", positiveNumber, 90)
    .option('--scheme <scheme>', 'signature scheme: pss or pkcs1', 'pss')
    .option('--out <file>', 'where to write the sealed message (default: standard output)')
    .addHelpText(
      'after',
      `
Examples:
  postamt pki init --dir /tmp/pki
  postamt message seal brief.eml --from-identity /tmp/pki/praxis-a \\
      --to-cert /tmp/pki/praxis-b/enc.pem --out sealed.eml
  postamt message seal brief.eml --from-identity osig.p12 --password "$PW" --from-enc-cert enc.pem \\
      --to-cert praxis-b@praxis.kim.test=b-enc.pem --to-cert c-enc.pem
  postamt message seal brief.eml --from-identity /tmp/pki/praxis-a --signature-key ecc \\
      --to-cert /tmp/pki/praxis-b/enc.pem --to-cert /tmp/pki/praxis-b/enc-ecc.pem --out sealed.eml

ECC recipients (brainpoolP256r1) get a TI-ECIES RecipientInfo (A_17220), RSA ones RSAES-OAEP;
a practice directory's own enc.pem and enc-ecc.pem both get one for the sender.

The file may have LF or CRLF line ends: it is signed in canonical form (CRLF).`,
    )
    .action(async (input: string, o: { fromIdentity: string; fromEncCert?: string[]; signatureKey: string; from?: string; toCert?: string[]; password?: string; komleVersion: string; ttlDays: number; scheme: string; out?: string }) => {
      if (!o.toCert?.length) throw new UsageError('at least one --to-cert is required');
      if (!(KOMLE_VERSIONS as readonly string[]).includes(o.komleVersion)) throw new UsageError(`--komle-version must be one of ${KOMLE_VERSIONS.join(', ')}`);
      if (o.scheme !== 'pss' && o.scheme !== 'pkcs1') throw new UsageError('--scheme must be pss or pkcs1');
      const recipients = recipientsFrom(o.toCert);
      if (!(SIGNATURE_KEYS as readonly string[]).includes(o.signatureKey)) throw new UsageError(`--signature-key must be one of ${SIGNATURE_KEYS.join(', ')}`);
      const identity = await fromIdentity(o.fromIdentity, o);
      const signer = identity.card.signature ?? identity.card.signatureEcc!;
      const senderEmail = o.from ?? certificateMailAddresses(signer.certDer)[0] ?? identity.encCerts.map((c) => certificateMailAddresses(c)[0]).find(Boolean);
      if (!senderEmail) throw new UsageError('the sender certificate names no mail address: give --from');
      const konnektor = new SoftwareKonnektor({
        trustAnchors: [],
        mandanten: [{ id: 'cli', clientSystems: ['cli'], workplaces: ['*'], smcb: async () => identity.card }],
      });
      const sealed = await sealMessage(readFileSync(input), {
        konnektor,
        context: CLI_CONTEXT,
        senderEmail,
        recipients,
        komLeVersion: o.komleVersion as KomLeVersion,
        dataTimeToLiveDays: o.ttlDays,
        scheme: o.scheme,
        signatureKey: o.signatureKey as SignatureKeyChoice,
        // A file from an editor or another tool often has LF line ends; what is signed is CRLF.
        canonicalise: true,
      });
      if (o.out) {
        writeFileSync(o.out, sealed.message);
        print(`sealed ${sealed.messageId} for ${[...new Set(sealed.recipientEmails.map((r) => r.email))].join(', ')} (${sealed.recipientEmails.length} RecipientInfos) -> ${o.out}`);
        if (sealed.addedMessageId) print('  (the message had no Message-ID; one was added)');
      } else {
        process.stdout.write(sealed.message);
      }
    });

  message
    .command('open')
    .description('decrypt and verify a KOM-LE message; prints every check and its result, exits 1 when any fails')
    .argument('<in>', 'the received message (.eml)')
    .requiredOption('--key <key>', 'our decryption key: a PEM key beside its certificate (enc.key → enc.pem, enc-ecc.key → enc-ecc.pem), a .p12 file, or a practice directory (its RSA and ECC keys)')
    .option('--cert <pem>', 'the certificate of a PEM --key (default: the .pem beside it)')
    .option('--password <password>', 'password of a .p12 or encrypted PEM key (default: $POSTAMT_KEY_PASSWORD)')
    .option('--trust <pem>', 'a trusted CA certificate file (repeatable)', collect)
    .option('--out <file>', 'write the inner message (as the sender wrote it) here')
    .option('--present <file>', 'write what the primary system would receive (result headers, note, or the failure message) here')
    .option('--as <address>', "the fetching user's KIM address: decrypt only with the keys recipient-emails names for it (KOM-LE-A_2043)")
    .addOption(
      new Option('--integrity-failure <mode>', 'what --present gives after a failed integrity check (A_23165): the fixed text, the text with the original embedded, or the original')
        .choices(['replace', 'embed', 'original'])
        .default('replace'),
    )
    .addHelpText(
      'after',
      `
Exit status: 0 when decrypted and every check passed, 1 otherwise (also for non-KOM-LE messages).

Examples:
  postamt message open sealed.eml --key /tmp/pki/praxis-b/enc.key --trust /tmp/pki/ca.pem --out brief.eml
  postamt message open sealed.eml --key enc.p12 --password "$PW" --trust ca.pem --present for-pvs.eml`,
    )
    .action(async (input: string, o: { key: string; cert?: string; password?: string; trust?: string[]; out?: string; present?: string; as?: string; integrityFailure: IntegrityFailureMode }) => {
      if (!o.trust?.length) throw new UsageError('at least one --trust certificate is required to check the signer');
      const keys = await decryptionKeys(o.key, { password: password(o), certPath: o.cert });
      const konnektor = new SoftwareKonnektor({
        trustAnchors: o.trust.flatMap((t) => readCertificateFile(t)),
        mandanten: [{ id: 'cli', clientSystems: ['cli'], workplaces: ['*'], smcb: async () => ({ encryption: keys }) }],
      });
      const raw = readFileSync(input);
      const result = await openMessage(raw, { konnektor, context: CLI_CONTEXT, ...(o.as ? { recipientAddress: o.as } : {}) });
      for (const c of result.checks) print(`${c.ok ? 'ok  ' : 'FAIL'} ${c.name.padEnd(18)} ${c.detail}`);
      if (!result.komle) {
        print('not a KOM-LE message (no X-KOM-LE-Version): a client module passes it through unchanged');
      } else {
        if (result.versionUnsupported) print(`X-KOM-LE-Version ${result.komLeVersion} is not supported (${KOMLE_VERSIONS.join(', ')})`);
        const d = result.decryption;
        if (d) print(`X-KIM-DecryptionResult: ${d} (${DECRYPTION_RESULTS[d].condition})`);
        for (const r of result.integrityResults) print(`X-KIM-IntegrityCheckResult: ${r} (${INTEGRITY_RESULTS[r].result})`);
        for (const f of result.fehlermeldungen) print(`X-KIM-Fehlermeldung: ${f} (${FEHLERMELDUNGEN[f]})`);
      }
      if (o.out && result.inner) {
        writeFileSync(o.out, result.inner);
        print(`inner message written to ${o.out}`);
      }
      if (o.present) {
        writeFileSync(o.present, presentForPrimarySystem(raw, result, { integrityFailure: o.integrityFailure, ...(o.as ? { recipientAddress: o.as } : {}) }));
        print(`primary-system view written to ${o.present}`);
      }
      if (!result.ok) process.exitCode = 1;
    });
}
