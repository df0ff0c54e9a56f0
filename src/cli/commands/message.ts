import type { Command } from 'commander';
import { InvalidArgumentError, Option } from 'commander';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
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
  type CardKey,
  type EnvelopeRecipient,
  type KomLeVersion,
  type KonnektorContext,
  type IntegrityFailureMode,
} from '../../crypto/index.js';
import { print } from '../context.js';

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

async function fromIdentity(path: string, o: { password?: string; fromEncCert?: string }): Promise<{ signature: CardKey; encCert: Uint8Array }> {
  const signature = await loadKeyPath(path, { password: password(o), use: 'signature' });
  let encPath = o.fromEncCert;
  if (!encPath) {
    const dir = statSync(path).isDirectory() ? path : dirname(path);
    if (existsSync(join(dir, 'enc.pem'))) encPath = join(dir, 'enc.pem');
  }
  if (!encPath) throw new UsageError('the sender needs an encryption certificate of its own: give --from-enc-cert, or a practice directory holding enc.pem');
  const encCert = readCertificateFile(encPath)[0]!;
  return { signature, encCert };
}

export function registerMessage(program: Command): void {
  const message = program.command('message').description('seal and open single KOM-LE messages (files in, files out; a software Konnektor over the given keys)');

  message
    .command('seal')
    .description('sign and encrypt a message (RFC 5322 file) into a KOM-LE message: SignedData inside AuthEnvelopedData, outer headers per gemSMIME_KOMLE')
    .argument('<in>', 'the message as the primary system would send it (.eml)')
    .requiredOption('--from-identity <dir|p12|key>', "the sender's signature identity: a practice directory of `postamt pki init` (osig.* and enc.pem), a .p12 file or a PEM key beside its certificate")
    .option('--from-enc-cert <pem>', "the sender's own encryption certificate (default: enc.pem beside the identity)")
    .option('--from <address>', "the sender's KIM address (default: from the signature certificate)")
    .option('--to-cert <[address=]pem>', "a recipient's encryption certificate (repeatable); the address comes from the certificate unless given", collect)
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

The file may have LF or CRLF line ends: it is signed in canonical form (CRLF).`,
    )
    .action(async (input: string, o: { fromIdentity: string; fromEncCert?: string; from?: string; toCert?: string[]; password?: string; komleVersion: string; ttlDays: number; scheme: string; out?: string }) => {
      if (!o.toCert?.length) throw new UsageError('at least one --to-cert is required');
      if (!(KOMLE_VERSIONS as readonly string[]).includes(o.komleVersion)) throw new UsageError(`--komle-version must be one of ${KOMLE_VERSIONS.join(', ')}`);
      if (o.scheme !== 'pss' && o.scheme !== 'pkcs1') throw new UsageError('--scheme must be pss or pkcs1');
      const recipients = recipientsFrom(o.toCert);
      const identity = await fromIdentity(o.fromIdentity, o);
      const senderEmail = o.from ?? certificateMailAddresses(identity.signature.certDer)[0] ?? certificateMailAddresses(identity.encCert)[0];
      if (!senderEmail) throw new UsageError('the sender certificate names no mail address: give --from');
      // Sealing only reads the sender's ENC certificate (for its own RecipientInfo), never its
      // private key, so the card is given the signature key beside it rather than asking for a second key file.
      const konnektor = new SoftwareKonnektor({
        trustAnchors: [],
        mandanten: [
          { id: 'cli', clientSystems: ['cli'], workplaces: ['*'], smcb: async () => ({ signature: identity.signature, encryption: [{ certDer: identity.encCert, privateKey: identity.signature.privateKey }] }) },
        ],
      });
      const sealed = await sealMessage(readFileSync(input), {
        konnektor,
        context: CLI_CONTEXT,
        senderEmail,
        recipients,
        komLeVersion: o.komleVersion as KomLeVersion,
        dataTimeToLiveDays: o.ttlDays,
        scheme: o.scheme,
        // A file from an editor or another tool often has LF line ends; what is signed is CRLF.
        canonicalise: true,
      });
      if (o.out) {
        writeFileSync(o.out, sealed.message);
        print(`sealed ${sealed.messageId} for ${sealed.recipientEmails.map((r) => r.email).join(', ')} -> ${o.out}`);
        if (sealed.addedMessageId) print('  (the message had no Message-ID; one was added)');
      } else {
        process.stdout.write(sealed.message);
      }
    });

  message
    .command('open')
    .description('decrypt and verify a KOM-LE message; prints every check and its result, exits 1 when any fails')
    .argument('<in>', 'the received message (.eml)')
    .requiredOption('--key <key>', 'our decryption key: a PEM key beside its certificate (enc.key → enc.pem), a .p12 file or a practice directory')
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
      const key = await loadKeyPath(o.key, { password: password(o), certPath: o.cert, use: 'encryption' });
      const konnektor = new SoftwareKonnektor({
        trustAnchors: o.trust.flatMap((t) => readCertificateFile(t)),
        mandanten: [{ id: 'cli', clientSystems: ['cli'], workplaces: ['*'], smcb: async () => ({ encryption: [key] }) }],
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
