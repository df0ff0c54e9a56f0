/**
 * npm run bench:ldap — the directory (VZD over LDAP) under a primary-system / client-module load.
 * Generates BENCH_ENTRIES (100,000) VZD-like entries, each with the same real ~1.2 KB RSA ENC
 * certificate, imports the LDIF through the Directory API (timed), starts `postamt serve`
 * (SQLite, directory.cacheEntries 100000) and runs 16 concurrent clients, one connection each,
 * one search outstanding at a time, for BENCH_SECONDS (10) after a 2 s warm-up, with the mix:
 *   80% (mail=…) returning userCertificate;binary, 10% (telematikID=…), 10% (displayName=Prefix*)
 *   with size limit 100.
 * The client writes requests with src/wire/ldap's encoder on raw sockets, so it costs little
 * CPU next to the server. When OpenLDAP's slapd is installed, the same LDIF is loaded with
 * slapadd (timed) into a throwaway mdb database and slapd gets the same load in the same run.
 *   BENCH_ENTRIES=100000 BENCH_CLIENTS=16 BENCH_SECONDS=10 BENCH_PROCESSES=1 npm run bench:ldap
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createReadStream, createWriteStream, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import { once } from 'node:events';
import { cpuMsOf, percentile, startBenchServer, which } from './lib/server.js';
import { loadConfig } from '../src/config/index.js';
import { openStore } from '../src/store/index.js';
import { Directory, directoryOptions, importLdif, certificatesFrom } from '../src/directory/index.js';
import { BerFrameSplitter } from '../src/wire/ber/index.js';
import { encodeRequest, decodeLdapResponse, type LdapFilter } from '../src/wire/ldap/index.js';

const ENTRIES = Number(process.env.BENCH_ENTRIES ?? 100_000);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 16);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const WARMUP_SECONDS = 2;
/** directory.processes for the postamt server (its children's CPU counts in "server CPU"). */
const PROCESSES = Number(process.env.BENCH_PROCESSES ?? 1);
const BASE = 'dc=data,dc=vzd';

/** Writes the LDIF: the base entry (skipped by our importer, needed by slapadd), then the entries. */
async function writeLdif(file: string, cert: Buffer): Promise<void> {
  const b64 = cert.toString('base64').replace(/(.{76})/g, '$1\n ');
  const out = createWriteStream(file);
  const put = async (s: string): Promise<void> => {
    if (!out.write(s)) await once(out, 'drain');
  };
  await put(`dn: ${BASE}\nobjectClass: dcObject\nobjectClass: organization\ndc: data\no: VZD\n\n`);
  for (let k = 0; k < ENTRIES; k++) {
    const name = `Praxis ${k % 1000} Nummer ${k}`;
    await put(
      `dn: uid=e${k},${BASE}\nobjectClass: inetOrgPerson\nobjectClass: vzdEntry\nuid: e${k}\ntelematikID: 1-${k}\n` +
        `displayName: ${name}\ncn: ${name}\nsn: Name${k}\ngivenName: Vorname${k % 97}\nl: Stadt${k % 50}\npostalCode: ${10000 + (k % 9000)}\n` +
        `professionOID: 1.2.276.0.76.4.50\nentryType: 3\nmail: praxis${k}@anbieter.kim.telematik\n` +
        `komLeData: 1.5,praxis${k}@anbieter.kim.telematik\nuserCertificate;binary:: ${b64}\n\n`,
    );
  }
  out.end();
  await once(out, 'finish');
}

/**
 * One real RSA-2048 certificate shaped like an SMC-B ENC certificate (~1.2 KB DER), made once
 * with openssl; every entry carries the same one (the directory does not parse it per search).
 */
function realCertificate(work: string): Buffer {
  const key = join(work, 'cert.key');
  const pem = join(work, 'cert.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', pem, '-days', '1825',
    '-subj', '/C=DE/L=Berlin/postalCode=10117/street=Friedrichstrasse 136/O=Praxis Dr. med. Erika Mustermann - Allgemeinmedizin/CN=Praxis Dr. med. Erika Mustermann/serialNumber=80276883110000118001',
    '-addext', 'keyUsage=critical,keyEncipherment,dataEncipherment',
    '-addext', 'certificatePolicies=1.2.276.0.76.4.163,1.2.276.0.76.4.77',
    '-addext', 'subjectAltName=email:praxis-mustermann@anbieter.kim.telematik',
  ], { stdio: 'ignore' });
  return certificatesFrom(readFileSync(pem))[0]!;
}

/** One search connection: a request at a time, responses framed and decoded with our codec. */
class SearchConnection {
  private readonly frames = new BerFrameSplitter(1 << 20, 0x30);
  private wake: (() => void) | null = null;
  private messageId = 0;

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.frames.push(d);
      const w = this.wake;
      this.wake = null;
      w?.();
    });
    socket.on('error', () => undefined);
  }

  static async connect(port: number): Promise<SearchConnection> {
    const s = net.connect({ port, host: '127.0.0.1' });
    s.setNoDelay(true);
    await once(s, 'connect');
    return new SearchConnection(s);
  }

  /** Runs one search; returns the entries and the result code. */
  async search(filter: LdapFilter, attributes: string[], sizeLimit: number): Promise<{ entries: number; certBytes: number; resultCode: number }> {
    const id = ++this.messageId;
    this.socket.write(
      encodeRequest({ messageId: id, controls: [], op: { type: 'search', baseObject: BASE, scope: 'sub', derefAliases: 0, sizeLimit, timeLimit: 0, typesOnly: false, filter, attributes } }),
    );
    let entries = 0;
    let certBytes = 0;
    for (;;) {
      const frame = this.frames.next();
      if (!frame) {
        await new Promise<void>((r) => (this.wake = r));
        continue;
      }
      const r = decodeLdapResponse(frame);
      if (r.messageId !== id) throw new Error(`response to ${r.messageId}, expected ${id}`);
      if (r.type === 'entry') {
        entries++;
        for (const a of r.attributes) if (/^userCertificate/i.test(a.type)) for (const v of a.values) certBytes += v.length;
      } else if (r.type === 'result') return { entries, certBytes, resultCode: r.resultCode };
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

/** How many entries `(displayName=Praxis <p>*)` matches: "Praxis 12*" also matches "Praxis 120 …". */
const prefixCounts = new Map<number, number>();
function prefixMatches(p: number): number {
  let n = prefixCounts.get(p);
  if (n === undefined) {
    n = 0;
    for (let k = 0; k < ENTRIES; k++) if (String(k % 1000).startsWith(String(p))) n++;
    prefixCounts.set(p, n);
  }
  return n;
}

type Kind = 'mail' | 'telematikID' | 'displayName';

/** The mix: 80% mail with the certificate, 10% telematikID, 10% displayName prefix (size limit 100). */
function pick(rnd: number): { kind: Kind; filter: LdapFilter; attributes: string[]; expect: number } {
  const k = Math.floor(Math.random() * ENTRIES);
  if (rnd < 0.8) return { kind: 'mail', filter: { type: 'equality', attribute: 'mail', value: Buffer.from(`praxis${k}@anbieter.kim.telematik`) }, attributes: ['userCertificate;binary'], expect: 1 };
  if (rnd < 0.9) return { kind: 'telematikID', filter: { type: 'equality', attribute: 'telematikID', value: Buffer.from(`1-${k}`) }, attributes: [], expect: 1 };
  return { kind: 'displayName', filter: { type: 'substrings', attribute: 'displayName', initial: Buffer.from(`Praxis ${k % 1000}`), any: [] }, attributes: ['displayName', 'mail', 'telematikID'], expect: prefixMatches(k % 1000) };
}

interface LoadResult {
  searches: number;
  secs: number;
  latencies: number[];
  byKind: Record<Kind, number>;
  latByKind: Record<Kind, number[]>;
  errors: number;
  firstError: string;
  cpuPct: number;
  /** The server's CPU time (user + system) per search in µs: robust to other load on the machine. */
  serverUsPerSearch: number;
  serverCpuPct: number;
}

/** CPU time (user + system) a process and its children have used so far, in ms, from /proc (works for slapd too). */
function processCpuMs(pid: number): number {
  let ms = cpuMsOf(pid);
  for (const child of childPids(pid)) ms += processCpuMs(child);
  return ms;
}

/** The running children of a process (directory.processes > 1), from /proc/PID/task/TID/children. */
function childPids(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((tid) => readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number));
  } catch {
    return [];
  }
}

async function runLoad(port: number, seconds: number, serverPid: number): Promise<LoadResult> {
  const conns = await Promise.all(Array.from({ length: CLIENTS }, () => SearchConnection.connect(port)));
  const latencies: number[] = [];
  const byKind: Record<Kind, number> = { mail: 0, telematikID: 0, displayName: 0 };
  const latByKind: Record<Kind, number[]> = { mail: [], telematikID: [], displayName: [] };
  let errors = 0;
  let firstError = '';
  const cpu0 = process.cpuUsage();
  const server0 = processCpuMs(serverPid);
  const t0 = performance.now();
  const until = t0 + seconds * 1000;
  await Promise.all(
    conns.map(async (c) => {
      while (performance.now() < until) {
        const q = pick(Math.random());
        const ts = performance.now();
        const r = await c.search(q.filter, q.attributes, 100);
        const ms = performance.now() - ts;
        latencies.push(ms);
        latByKind[q.kind].push(ms);
        byKind[q.kind]++;
        // mail and telematikID find exactly one entry; a prefix what prefixMatches says, cut at 100 with sizeLimitExceeded.
        const ok = q.kind === 'displayName' ? r.entries === Math.min(100, q.expect) && r.resultCode === (q.expect > 100 ? 4 : 0) : r.entries === 1 && r.resultCode === 0 && (q.kind !== 'mail' || r.certBytes > 900);
        if (!ok) {
          errors++;
          firstError ||= `${q.kind}: ${r.entries} entries, result ${r.resultCode}`;
        }
      }
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const serverMs = processCpuMs(serverPid) - server0;
  for (const c of conns) c.close();
  latencies.sort((a, b) => a - b);
  for (const l of Object.values(latByKind)) l.sort((a, b) => a - b);
  return { searches: latencies.length, secs, latencies, byKind, latByKind, errors, firstError, cpuPct: (100 * (cpu.user + cpu.system)) / 1e6 / secs, serverUsPerSearch: (serverMs * 1000) / Math.max(1, latencies.length), serverCpuPct: serverMs / 10 / secs };
}

function row(k: string, v: string): void {
  console.log(`${k.padEnd(44)} ${v}`);
}

function report(name: string, r: LoadResult, rssMiB: number): void {
  row(`${name}: searches/s`, (r.searches / r.secs).toFixed(0));
  row(`${name}: searches (mail / telematikID / prefix)`, `${r.searches} (${r.byKind.mail} / ${r.byKind.telematikID} / ${r.byKind.displayName})`);
  row(`${name}: latency p50 / p99 (ms)`, `${percentile(r.latencies, 50).toFixed(2)} / ${percentile(r.latencies, 99).toFixed(2)}`);
  for (const k of ['mail', 'telematikID', 'displayName'] as const) row(`${name}:   ${k} p50 / p99 (ms)`, `${percentile(r.latByKind[k], 50).toFixed(2)} / ${percentile(r.latByKind[k], 99).toFixed(2)}`);
  row(`${name}: wrong answers`, r.errors ? `${r.errors} (first: ${r.firstError})` : '0');
  row(`${name}: server CPU per search (µs)`, `${r.serverUsPerSearch.toFixed(0)} (server at ${r.serverCpuPct.toFixed(0)}% of one core)`);
  row(`${name}: server peak RSS (MiB)`, rssMiB.toFixed(0));
  row(`${name}: load generator CPU (% of one core)`, r.cpuPct.toFixed(0));
}

function vmHwmMiB(pid: number): number {
  return Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
}

async function freePort(): Promise<number> {
  const s = net.createServer().listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as net.AddressInfo).port;
  s.close();
  await once(s, 'close');
  return port;
}

/** The VZD attributes slapd does not know, as a schema in slapd.conf syntax (private OIDs). */
const VZD_SCHEMA = `attributetype ( 1.3.6.1.4.1.99999.1.1 NAME 'telematikID' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.99999.1.2 NAME 'komLeData' EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )
attributetype ( 1.3.6.1.4.1.99999.1.3 NAME 'professionOID' EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )
attributetype ( 1.3.6.1.4.1.99999.1.4 NAME 'entryType' EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )
objectclass ( 1.3.6.1.4.1.99999.2.1 NAME 'vzdEntry' SUP top AUXILIARY MAY ( telematikID $ komLeData $ professionOID $ entryType ) )
`;

/** slapadd (timed) into a fresh mdb database, then slapd on a free loopback port, same indexes as ours. */
async function startSlapd(dir: string, ldif: string): Promise<{ child: ChildProcess; port: number; importSecs: number; stop(): Promise<void> }> {
  mkdirSync(join(dir, 'db'), { recursive: true });
  writeFileSync(join(dir, 'vzd.schema'), VZD_SCHEMA);
  const conf = join(dir, 'slapd.conf');
  writeFileSync(
    conf,
    `include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include ${join(dir, 'vzd.schema')}
pidfile ${join(dir, 'slapd.pid')}
modulepath /usr/lib/ldap
moduleload back_mdb
loglevel 0
sizelimit 100
database mdb
maxsize 4294967296
suffix "${BASE}"
directory ${join(dir, 'db')}
index objectClass eq
index uid,mail,telematikID eq
index displayName,cn,sn,givenName,l eq,subinitial
`,
  );
  const t0 = performance.now();
  execFileSync('slapadd', ['-q', '-f', conf, '-l', ldif], { stdio: ['ignore', 'ignore', 'inherit'] });
  const importSecs = (performance.now() - t0) / 1000;
  const port = await freePort();
  const child = spawn('slapd', ['-d', '0', '-f', conf, '-h', `ldap://127.0.0.1:${port}/`], { stdio: ['ignore', 'ignore', 'ignore'] });
  for (let i = 0; ; i++) {
    const ok = await new Promise<boolean>((r) => {
      const s = net.connect({ port, host: '127.0.0.1' }, () => (s.destroy(), r(true)));
      s.on('error', () => r(false));
    });
    if (ok) break;
    if (i > 200 || child.exitCode !== null) throw new Error('slapd did not start');
    await new Promise((r) => setTimeout(r, 50)); // polling a child's port: there is no ready signal to wait on
  }
  return {
    child,
    port,
    importSecs,
    stop: async () => {
      const done = once(child, 'exit');
      child.kill('SIGTERM');
      await done;
    },
  };
}

async function main(): Promise<void> {
  console.log(`bench:ldap — ${ENTRIES} entries, ${CLIENTS} clients for ${SECONDS} s (after ${WARMUP_SECONDS} s warm-up): 80% (mail=…) + certificate, 10% (telematikID=…), 10% (displayName=Prefix*) size limit 100; postamt with directory.processes ${PROCESSES}`);
  const work = mkdtempSync(join(tmpdir(), 'postamt-bench-ldap-'));
  try {
    const cert = realCertificate(work);
    const ldif = join(work, 'vzd.ldif');
    await writeLdif(ldif, cert);
    let imported = { secs: 0, added: 0, bytes: 0 };
    const server = await startBenchServer([], `directory:\n  ldap:\n    starttls: { port: 0 }\n    implicit: { port: 0 }\n  cacheEntries: 100000\n  processes: ${PROCESSES}\n`, async (cfg) => {
      const { config } = loadConfig(cfg);
      const store = await openStore(config);
      try {
        const dir = new Directory(store, directoryOptions(config.directory));
        const r = await importLdif(dir, createReadStream(ldif));
        if (!r.applied) throw new Error(`import refused: ${JSON.stringify(r.rejected.slice(0, 3))}`);
        imported = { secs: r.ms / 1000, added: r.added, bytes: r.bytes };
      } finally {
        await store.close();
      }
    });
    let ours: LoadResult;
    let oursRss: number;
    try {
      row('certificate size (bytes)', String(cert.length));
      row('LDIF size (MB)', (imported.bytes / 1e6).toFixed(1));
      row('postamt: import via Directory API (s)', `${imported.secs.toFixed(1)} (${imported.added} entries, SQLite, one transaction)`);
      const port = server.endpoints.ldap!.port;
      // The server fills its equality index and entry cache in the background after start
      // (docs/directory.md, "Warm index"); the load starts once it says so. The line may sit in
      // the server's buffered log, so after 20 s (the build takes a few) the load starts anyway.
      const warmLine = await Promise.race([server.waitForLog('directory index and cache warm'), new Promise<undefined>((r) => setTimeout(() => r(undefined), 20_000))]);
      const warmMs = warmLine ? (JSON.parse(warmLine) as { ms: number }).ms : undefined;
      row('postamt: index and cache warm after (s)', `${warmMs !== undefined ? (warmMs / 1000).toFixed(1) : 'not reported within 20 s'} (peak RSS then ${server.peakRssMiB().toFixed(0)} MiB)`);
      await runLoad(port, WARMUP_SECONDS, server.child.pid!);
      ours = await runLoad(port, SECONDS, server.child.pid!);
      // With directory.processes > 1: every process's peak, summed.
      oursRss = server.peakRssMiB() + childPids(server.child.pid!).reduce((n, pid) => n + vmHwmMiB(pid), 0);
      report('postamt', ours, oursRss);
    } finally {
      await server.stop();
    }

    if (which('slapd') && which('slapadd')) {
      const slapd = await startSlapd(join(work, 'slapd'), ldif);
      try {
        row('slapd: slapadd -q (s)', slapd.importSecs.toFixed(1));
        await runLoad(slapd.port, WARMUP_SECONDS, slapd.child.pid!);
        const theirs = await runLoad(slapd.port, SECONDS, slapd.child.pid!);
        report('slapd', theirs, vmHwmMiB(slapd.child.pid!));
        row('postamt / slapd searches/s', (ours.searches / ours.secs / (theirs.searches / theirs.secs)).toFixed(2));
        row('postamt / slapd server CPU per search', (ours.serverUsPerSearch / theirs.serverUsPerSearch).toFixed(2));
      } finally {
        await slapd.stop();
      }
    } else {
      console.log('slapd not installed (Debian package slapd): no side-by-side run');
    }
    console.log('targets (issue 4): at least slapd\'s searches/s; 100k entries imported in under 60 s');
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

void main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
