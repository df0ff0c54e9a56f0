/**
 * npm run bench:crypto — seal and open a 100 KB KOM-LE message for 3 recipients (plus the
 * sender's own RecipientInfo) through the software Konnektor, single process, three ways: every
 * practice RSA only, every practice ECC only (brainpoolP256r1: TI-ECIES key transport, ECDSA
 * signature), and every practice with both (8 RecipientInfos, RSA signature); msgs/s per core in
 * each direction next to `openssl speed -seconds 3 rsa2048` on the same machine (one RSA-2048
 * private operation bounds sealing; opening costs one OAEP decryption and one verification).
 * Rates are given per CPU second of this process (user + system, GC threads included) — the
 * same divisor `openssl speed` uses (CPU user time) — and per wall second; on a loaded machine
 * only the CPU figure means much, so the load average is printed before and after. Beside it the
 * same primitive work without CMS or MIME around it (primitiveWork): the floor for this message.
 *   BENCH_SECONDS=5 npm run bench:crypto
 *   BENCH_SECONDS=2 node --cpu-prof dist/bench/crypto.js   (profile: see docs/benchmarks.md)
 */
import { execFileSync } from 'node:child_process';
import { constants, createCipheriv, createDecipheriv, createHash, createPublicKey, diffieHellman, generateKeyPairSync, privateDecrypt, publicEncrypt, randomBytes, sign, verify, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestPki, openMessage, readCertificateFile, sealMessage, SoftwareKonnektor, cardLoaderFromFiles, type KonnektorContext, type PracticeKeys, type SignatureKeyChoice } from '../src/crypto/index.js';
import { which } from './lib/server.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const SIZE = 100 * 1024;

function message(): Buffer {
  const head = 'From: Praxis A <praxis-a@praxis.kim.test>\r\nTo: <praxis-b@praxis.kim.test>, <praxis-c@praxis.kim.test>, <praxis-d@praxis.kim.test>\r\nSubject: Arztbrief\r\nMessage-ID: <bench@praxis.kim.test>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0100\r\nX-KIM-Dienstkennung: Arztbrief;VHitG-Versand;V1.2\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n';
  const line = 'Befund: Hämoglobin 14,2 g/dl, Leukozyten 6.800/µl, alles im Normbereich. 0123456789\r\n';
  let body = '';
  while (Buffer.byteLength(head + body + line) <= SIZE) body += line;
  return Buffer.from(head + body, 'utf8');
}

interface Rate {
  /** Messages per CPU second of this process: what "per core" means here. */
  readonly perCpuSecond: number;
  readonly perWallSecond: number;
}

async function rate(label: string, fn: () => Promise<unknown>): Promise<Rate> {
  for (let i = 0; i < 20; i++) await fn(); // warm-up: JIT, certificate caches
  // The previous figure's garbage is collected now, not on this figure's CPU time (--expose-gc).
  (globalThis as { gc?: () => void }).gc?.();
  let n = 0;
  const cpu = process.cpuUsage();
  const start = performance.now();
  const end = start + SECONDS * 1000;
  while (performance.now() < end) {
    await fn();
    n++;
  }
  const wallS = (performance.now() - start) / 1000;
  const used = process.cpuUsage(cpu);
  const cpuS = (used.user + used.system) / 1e6;
  const r = { perCpuSecond: n / cpuS, perWallSecond: n / wallS };
  console.log(
    `${label.padEnd(44)} ${r.perCpuSecond.toFixed(0).padStart(6)} msgs/s per core (${((cpuS * 1000) / n).toFixed(3)} ms CPU each); wall ${r.perWallSecond.toFixed(0)} msgs/s (${((wallS * 1000) / n).toFixed(3)} ms); ${n} runs`,
  );
  return r;
}

/**
 * The same primitive work as one seal and one open, done with node:crypto (OpenSSL underneath)
 * and Node's base64 on buffers of the sizes the real message has, with nothing around it: no
 * CMS or MIME structure, no checks. It is the floor a seal or open can approach in this runtime;
 * the issue's bound (one RSA signature) leaves the symmetric and encoding work of a 100 KB
 * message out. Base64 goes in pieces of ~20 KB: one string above V8's large-object threshold
 * costs ten times the codec (docs/benchmarks.md), so the floor uses the fastest known way.
 */
const PIECE = 19_950; // a multiple of 3 (encoding) and of 4 (decoding)
function toBase64(b: Buffer): Buffer {
  const parts: Buffer[] = [];
  for (let o = 0; o < b.length; o += PIECE) parts.push(Buffer.from(b.subarray(o, o + PIECE).toString('base64'), 'latin1'));
  return Buffer.concat(parts);
}
function fromBase64(b: Buffer): Buffer {
  const parts: Buffer[] = [];
  for (let o = 0; o < b.length; o += PIECE * 4) parts.push(Buffer.from(b.subarray(o, o + PIECE * 4).toString('latin1'), 'base64'));
  return Buffer.concat(parts);
}
interface FloorShape {
  /** The signer's key: RSA-2048 (PSS) or brainpoolP256r1 (ECDSA). */
  readonly signer: 'rsa' | 'ecc';
  /** Recipient certificates (the sender's own included) of each kind: one key transport each. */
  readonly rsaRecipients: number;
  readonly eccRecipients: number;
  /** Which key the opening side unwraps with. */
  readonly openWith: 'rsa' | 'ecc';
}

/**
 * One TI-ECIES cryptogram's bare primitives (A_17220), as node:crypto offers them: the ephemeral
 * key pair, ECDH, the two SHA-256 of the KDF, the IV block, AES-256-CBC of the padded key and the
 * CMAC's AES work (one subkey block and a CBC pass over the padded ciphertext).
 */
function eciesWrapPrimitives(recipient: KeyObject, cek: Buffer): void {
  const eph = generateKeyPairSync('ec', { namedCurve: 'brainpoolP256r1' });
  const kab = diffieHellman({ privateKey: eph.privateKey, publicKey: recipient });
  const kEnc = createHash('sha256').update(kab).update(Buffer.of(0, 0, 0, 1)).digest();
  const kMac = createHash('sha256').update(kab).update(Buffer.of(0, 0, 0, 2)).digest();
  const iv = createCipheriv('aes-256-ecb', kEnc, null).setAutoPadding(false).update(Buffer.alloc(16));
  const c = createCipheriv('aes-256-cbc', kEnc, iv).setAutoPadding(false).update(Buffer.concat([cek, Buffer.from([0x80]), Buffer.alloc(15)]));
  createCipheriv('aes-256-ecb', kMac, null).setAutoPadding(false).update(Buffer.alloc(16));
  createCipheriv('aes-256-cbc', kMac, Buffer.alloc(16)).setAutoPadding(false).update(Buffer.concat([c, Buffer.from([0x80]), Buffer.alloc(15)]));
  eph.publicKey.export({ type: 'spki', format: 'der' });
}

/** The unwrap side: the ephemeral point into a key, ECDH, KDF, CMAC, CBC decryption. */
function eciesUnwrapPrimitives(spki: Buffer, privateKey: KeyObject, c: Buffer): void {
  const peer = createPublicKey({ key: spki, format: 'der', type: 'spki' });
  const kab = diffieHellman({ privateKey, publicKey: peer });
  const kEnc = createHash('sha256').update(kab).update(Buffer.of(0, 0, 0, 1)).digest();
  const kMac = createHash('sha256').update(kab).update(Buffer.of(0, 0, 0, 2)).digest();
  createCipheriv('aes-256-ecb', kMac, null).setAutoPadding(false).update(Buffer.alloc(16));
  createCipheriv('aes-256-cbc', kMac, Buffer.alloc(16)).setAutoPadding(false).update(Buffer.concat([c, Buffer.from([0x80]), Buffer.alloc(15)]));
  const iv = createCipheriv('aes-256-ecb', kEnc, null).setAutoPadding(false).update(Buffer.alloc(16));
  createDecipheriv('aes-256-cbc', kEnc, iv).setAutoPadding(false).update(c);
}

/**
 * The same primitive work as one seal and one open of the given shape, done with node:crypto
 * (OpenSSL underneath) and Node's base64 on buffers of the sizes the real message has, with
 * nothing around it: no CMS or MIME structure, no checks. It is the floor a seal or open can
 * approach in this runtime.
 */
function primitiveWork(shape: FloorShape, contentBytes: number, innerBytes: number, outerBytes: number) {
  const rsa = () => generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 65537 });
  const ec = () => generateKeyPairSync('ec', { namedCurve: 'brainpoolP256r1' });
  const signer = shape.signer === 'rsa' ? rsa() : ec();
  const rsaRecipients = Array.from({ length: Math.max(shape.rsaRecipients, shape.openWith === 'rsa' ? 1 : 0) }, rsa);
  const eccRecipients = Array.from({ length: Math.max(shape.eccRecipients, shape.openWith === 'ecc' ? 1 : 0) }, ec);
  const content = randomBytes(contentBytes);
  const signedAttrs = randomBytes(200);
  // The SignedData entity is binary (KOM-LE-A_2299-01): innerBytes of DER, no base64 around it.
  const innerDer = randomBytes(innerBytes);
  const outerDer = randomBytes(Math.round((outerBytes * 3) / 4));
  const signOpts = shape.signer === 'rsa' ? { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 } : { dsaEncoding: 'der' as const };
  const oaep = (key: KeyObject) => ({ key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' });
  const cek = randomBytes(32);
  const iv = randomBytes(12);
  const wrapped = rsaRecipients[0] && publicEncrypt(oaep(rsaRecipients[0].publicKey), cek);
  const ephSpki = ec().publicKey.export({ type: 'spki', format: 'der' });
  const eciesC = randomBytes(48);
  const signature = sign('sha256', signedAttrs, { key: signer.privateKey, ...signOpts });
  const gcm = (data: Buffer) => {
    const c = createCipheriv('aes-256-gcm', cek, iv);
    const out = Buffer.concat([c.update(data), c.final()]);
    return { out, tag: c.getAuthTag() };
  };
  const sealedInner = gcm(innerDer);
  const outerB64 = toBase64(outerDer);
  return {
    seal: async () => {
      createHash('sha256').update(content).digest();
      sign('sha256', signedAttrs, { key: signer.privateKey, ...signOpts });
      for (let i = 0; i < shape.rsaRecipients; i++) publicEncrypt(oaep(rsaRecipients[i]!.publicKey), cek);
      for (let i = 0; i < shape.eccRecipients; i++) eciesWrapPrimitives(eccRecipients[i]!.publicKey, cek);
      gcm(innerDer);
      toBase64(outerDer);
    },
    open: async () => {
      fromBase64(outerB64);
      if (shape.openWith === 'rsa') privateDecrypt({ key: rsaRecipients[0]!.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, wrapped!);
      else eciesUnwrapPrimitives(ephSpki, eccRecipients[0]!.privateKey, eciesC);
      const d = createDecipheriv('aes-256-gcm', cek, iv);
      d.setAuthTag(sealedInner.tag);
      Buffer.concat([d.update(sealedInner.out), d.final()]);
      createHash('sha256').update(content).digest();
      verify('sha256', signedAttrs, { key: signer.publicKey, ...signOpts }, signature);
    },
  };
}

const load = (): string => loadavg().map((l) => l.toFixed(2)).join(' ');

function opensslSpeed(): { sign: number; verify: number } | undefined {
  if (!which('openssl')) return undefined;
  const out = execFileSync('openssl', ['speed', '-seconds', '3', 'rsa2048'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const m = /rsa\s+2048 bits\s+[\d.]+s\s+[\d.]+s\s+([\d.]+)\s+([\d.]+)/.exec(out);
  return m ? { sign: Number(m[1]), verify: Number(m[2]) } : undefined;
}

interface Scenario {
  readonly label: string;
  readonly keys: PracticeKeys;
  readonly signatureKey: SignatureKeyChoice;
  readonly floor: FloorShape;
}

// 3 recipients + the sender: 4 certificates per kind a practice has.
const SCENARIOS: readonly Scenario[] = [
  { label: 'RSA only', keys: 'rsa', signatureKey: 'rsa', floor: { signer: 'rsa', rsaRecipients: 4, eccRecipients: 0, openWith: 'rsa' } },
  { label: 'ECC only', keys: 'ecc', signatureKey: 'rsa-else-ecc', floor: { signer: 'ecc', rsaRecipients: 0, eccRecipients: 4, openWith: 'ecc' } },
  { label: 'mixed (RSA + ECC each)', keys: 'both', signatureKey: 'rsa', floor: { signer: 'rsa', rsaRecipients: 4, eccRecipients: 4, openWith: 'rsa' } },
];

async function scenario(sc: Scenario, dir: string): Promise<{ seal: number; open: number }> {
  const practices = ['a', 'b', 'c', 'd'].map((x, i) => ({ id: `praxis-${x}`, name: `Praxis ${x.toUpperCase()}`, telematikId: `1-2001471${i}`, email: `praxis-${x}@praxis.kim.test`, keys: sc.keys }));
  const pki = await createTestPki({ dir, practices, tlsNames: ['localhost'] });
  const konnektor = new SoftwareKonnektor({
    trustAnchors: readCertificateFile(pki.caCertPath),
    mandanten: practices.map((p) => ({ id: p.id, clientSystems: ['bench'], workplaces: ['*'], smcb: cardLoaderFromFiles({ dir: p.id }, dir) })),
  });
  const ctx = (id: string): KonnektorContext => ({ mandantId: id, clientSystemId: 'bench', workplaceId: '1' });
  const kinds = sc.keys === 'both' ? (['RSA', 'ECC'] as const) : sc.keys === 'ecc' ? (['ECC'] as const) : (['RSA'] as const);
  const recipients = (
    await Promise.all(practices.slice(1).flatMap((p) => kinds.map(async (crypt) => ({ email: p.email, certDer: await konnektor.readCardCertificate(ctx(p.id), 'C.ENC', crypt) }))))
  );
  const ps = message();
  const seal = () => sealMessage(ps, { konnektor, context: ctx('praxis-a'), senderEmail: 'praxis-a@praxis.kim.test', recipients, signatureKey: sc.signatureKey });
  const sealed = (await seal()).message;
  const check = await openMessage(sealed, { konnektor, context: ctx('praxis-b') });
  if (!check.ok) throw new Error(`bench message does not open cleanly: ${JSON.stringify(check.checks)}`);
  console.log(`\n${sc.label}: ${recipients.length + kinds.length} RecipientInfos, ${sc.floor.signer === 'rsa' ? 'RSA-PSS' : 'ECDSA brainpoolP256r1'} signature; sealed ${(sealed.length / 1024).toFixed(0)} KB`);
  const sealRate = await rate(`seal, ${sc.label}`, seal);
  const openRate = await rate(`open, ${sc.label}`, () => openMessage(sealed, { konnektor, context: ctx('praxis-b') }));
  const floor = primitiveWork(sc.floor, ps.length, ps.length + 1800, sealed.length);
  const sealFloor = await rate('floor: the same primitive work as that seal', floor.seal);
  const openFloor = await rate('floor: the same primitive work as that open', floor.open);
  const sealRatio = sealFloor.perCpuSecond / sealRate.perCpuSecond;
  const openRatio = openFloor.perCpuSecond / openRate.perCpuSecond;
  console.log(`${sc.label}: seal costs ${sealRatio.toFixed(2)}x its floor, open ${openRatio.toFixed(2)}x (target <= 1.6x)`);
  await konnektor.close();
  return { seal: sealRatio, open: openRatio };
}

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'postamt-bench-crypto-'));
  try {
    console.log(`KOM-LE message ${(message().length / 1024).toFixed(0)} KB, 3 recipients + sender; AES-256-GCM; RSA-2048 (PSS, OAEP SHA-256) and brainpoolP256r1 (ECDSA, TI-ECIES)`);
    console.log(`node ${process.version}, one process, ${SECONDS} s per figure; ${availableParallelism()} CPUs, load average ${load()}`);
    const only = process.env.BENCH_SCENARIO;
    for (const [i, sc] of SCENARIOS.entries()) {
      if (only && !sc.label.toLowerCase().startsWith(only.toLowerCase())) continue;
      await scenario(sc, join(root, `s${i}`));
    }
    // One cryptogram alone, beside the RSA-OAEP it replaces: what ECC costs a recipient.
    const recipient = generateKeyPairSync('ec', { namedCurve: 'brainpoolP256r1' });
    const rsaKey = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const cek = randomBytes(32);
    console.log('');
    await rate('one TI-ECIES wrap, bare primitives', async () => eciesWrapPrimitives(recipient.publicKey, cek));
    await rate('one RSA-OAEP wrap (SHA-256)', async () => publicEncrypt({ key: rsaKey.publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, cek));
    console.log(`load average after: ${load()}`);
    const speed = opensslSpeed();
    if (speed) {
      console.log(`openssl speed rsa2048 (${execFileSync('openssl', ['version'], { encoding: 'utf8' }).trim()}, per CPU second): ${speed.sign.toFixed(0)} sign/s (${(1000 / speed.sign).toFixed(3)} ms), ${speed.verify.toFixed(0)} verify/s; OpenSSL 3.0's speed has no brainpool entry`);
    } else {
      console.log('openssl not installed: no reference figures');
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

await main();
