/**
 * npm run bench:crypto — seal and open a 100 KB KOM-LE message for 3 recipients (plus the
 * sender's own RecipientInfo) through the software Konnektor, single process; msgs/s per core in
 * each direction next to `openssl speed -seconds 3 rsa2048` on the same machine (one RSA-2048
 * private operation bounds sealing; opening costs one OAEP decryption and one verification).
 * Rates are given per CPU second of this process (user + system, GC threads included) — the
 * same divisor `openssl speed` uses (CPU user time) — and per wall second; on a loaded machine
 * only the CPU figure means much, so the load average is printed before and after.
 *   BENCH_SECONDS=5 npm run bench:crypto
 *   BENCH_SECONDS=2 node --cpu-prof dist/bench/crypto.js   (profile: see docs/benchmarks.md)
 */
import { execFileSync } from 'node:child_process';
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
    console.log(`load average after: ${load()}`);
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
