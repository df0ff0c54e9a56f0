/**
 * npm run bench:crypto — seal and open a 100 KB KOM-LE message for 3 recipients (plus the
 * sender's own RecipientInfo) through the software Konnektor, single process; msgs/s per core in
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
import { constants, createCipheriv, createDecipheriv, createHash, generateKeyPairSync, privateDecrypt, publicEncrypt, randomBytes, sign, verify } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestPki, openMessage, readCertificateFile, sealMessage, SoftwareKonnektor, cardLoaderFromFiles, type KonnektorContext } from '../src/crypto/index.js';
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
function primitiveWork(contentBytes: number, innerBytes: number, outerBytes: number) {
  const rsa = () => generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 65537 });
  const signer = rsa();
  const recipients = [rsa(), rsa(), rsa(), rsa()];
  const content = randomBytes(contentBytes);
  const signedAttrs = randomBytes(200);
  // The SignedData entity is binary (KOM-LE-A_2299-01): innerBytes of DER, no base64 around it.
  const innerDer = randomBytes(innerBytes);
  const outerDer = randomBytes(Math.round((outerBytes * 3) / 4));
  const pss = { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 };
  const oaep = (key: (typeof recipients)[number]['publicKey']) => ({ key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' });
  const cek = randomBytes(32);
  const iv = randomBytes(12);
  const wrapped = publicEncrypt(oaep(recipients[0]!.publicKey), cek);
  const signature = sign('sha256', signedAttrs, { key: signer.privateKey, ...pss });
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
      sign('sha256', signedAttrs, { key: signer.privateKey, ...pss });
      for (const r of recipients) publicEncrypt(oaep(r.publicKey), cek);
      gcm(innerDer);
      toBase64(outerDer);
    },
    open: async () => {
      fromBase64(outerB64);
      privateDecrypt({ key: recipients[0]!.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, wrapped);
      const d = createDecipheriv('aes-256-gcm', cek, iv);
      d.setAuthTag(sealedInner.tag);
      Buffer.concat([d.update(sealedInner.out), d.final()]);
      createHash('sha256').update(content).digest();
      verify('sha256', signedAttrs, { key: signer.publicKey, ...pss }, signature);
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

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'postamt-bench-crypto-'));
  try {
    const practices = ['a', 'b', 'c', 'd'].map((x, i) => ({ id: `praxis-${x}`, name: `Praxis ${x.toUpperCase()}`, telematikId: `1-2001471${i}`, email: `praxis-${x}@praxis.kim.test` }));
    const pki = await createTestPki({ dir, practices, tlsNames: ['localhost'] });
    const konnektor = new SoftwareKonnektor({
      trustAnchors: readCertificateFile(pki.caCertPath),
      mandanten: practices.map((p) => ({ id: p.id, clientSystems: ['bench'], workplaces: ['*'], smcb: cardLoaderFromFiles({ dir: p.id }, dir) })),
    });
    const ctx = (id: string): KonnektorContext => ({ mandantId: id, clientSystemId: 'bench', workplaceId: '1' });
    const recipients = await Promise.all(practices.slice(1).map(async (p) => ({ email: p.email, certDer: await konnektor.readCardCertificate(ctx(p.id), 'C.ENC') })));
    const ps = message();
    const seal = () => sealMessage(ps, { konnektor, context: ctx('praxis-a'), senderEmail: 'praxis-a@praxis.kim.test', recipients });
    const sealed = (await seal()).message;
    const check = await openMessage(sealed, { konnektor, context: ctx('praxis-b') });
    if (!check.ok) throw new Error(`bench message does not open cleanly: ${JSON.stringify(check.checks)}`);

    console.log(`KOM-LE message ${(ps.length / 1024).toFixed(0)} KB, 3 recipients + sender; sealed ${(sealed.length / 1024).toFixed(0)} KB; RSA-2048, PSS signature, OAEP SHA-256, AES-256-GCM`);
    console.log(`node ${process.version}, one process, ${SECONDS} s per figure; ${availableParallelism()} CPUs, load average ${load()}`);
    const sealRate = await rate('seal (sign + 4x OAEP encrypt + AES-GCM)', seal);
    const openRate = await rate('open (OAEP decrypt + verify + all checks)', () => openMessage(sealed, { konnektor, context: ctx('praxis-b') }));
    // The inner entity is base64 of the SignedData (content + ~1.7 KB); the outer body is the sealed size.
    const floor = primitiveWork(ps.length, ps.length + 1800, sealed.length);
    const sealFloor = await rate('floor: the same primitive work as a seal', floor.seal);
    const openFloor = await rate('floor: the same primitive work as an open', floor.open);
    console.log(`load average after: ${load()}`);
    console.log(`seal: ${(sealRate.perCpuSecond / sealFloor.perCpuSecond).toFixed(2)} of the primitive-work floor (${sealFloor.perCpuSecond.toFixed(0)}/s per core)`);
    console.log(`open: ${(openRate.perCpuSecond / openFloor.perCpuSecond).toFixed(2)} of the primitive-work floor (${openFloor.perCpuSecond.toFixed(0)}/s per core)`);
    const speed = opensslSpeed();
    if (speed) {
      console.log(`openssl speed rsa2048 (${execFileSync('openssl', ['version'], { encoding: 'utf8' }).trim()}, per CPU second): ${speed.sign.toFixed(0)} sign/s (${(1000 / speed.sign).toFixed(3)} ms), ${speed.verify.toFixed(0)} verify/s`);
      const openBound = 1 / (1 / speed.sign + 1 / speed.verify);
      console.log(`seal: ${(sealRate.perCpuSecond / speed.sign).toFixed(2)} of the RSA-2048 sign bound (${speed.sign.toFixed(0)}/s); target >= 0.5`);
      console.log(`open: ${(openRate.perCpuSecond / openBound).toFixed(2)} of the sign+verify bound (${openBound.toFixed(0)}/s); target >= 0.5`);
    } else {
      console.log('openssl not installed: no reference figures');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
