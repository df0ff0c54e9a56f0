/**
 * npm run bench:blobs — one large blob through the database blob store: MB/s writing (64 KiB
 * pieces, as SMTP DATA hands them over), MB/s streaming it back, and the process's peak RSS
 * over its RSS before. PostgreSQL by default (a scratch database created and dropped), or
 * SQLite in a temp directory.
 *   BENCH_DB=postgres|sqlite BENCH_MB=50 BENCH_CHUNK_KB=1024 BENCH_PG_URL=postgres://postgres@127.0.0.1:5432/postgres npm run bench:blobs
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openDatabase, DatabaseBlobStore } from '../src/store/index.js';

const KIND = process.env.BENCH_DB ?? 'postgres';
const SIZE = Number(process.env.BENCH_MB ?? 50) * 1000 * 1000;
const CHUNK = Number(process.env.BENCH_CHUNK_KB ?? 1024) * 1024;
const ADMIN = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

let peakRss = 0;
const sample = (): void => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
};

async function scratch(): Promise<{ url: string; dataDir: string; drop(): Promise<void> }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'postamt-bench-blobs-'));
  if (KIND === 'sqlite') return { url: 'sqlite:bench.db', dataDir, drop: async () => rmSync(dataDir, { recursive: true, force: true }) };
  const name = `postamt_bench_blobs_${process.pid}`;
  const admin = new pg.Client({ connectionString: ADMIN });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(ADMIN);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    dataDir,
    drop: async () => {
      const c = new pg.Client({ connectionString: ADMIN });
      await c.connect();
      await c.query(`drop database if exists ${name}`);
      await c.end();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function main(): Promise<void> {
  const where = await scratch();
  const handle = await openDatabase({ url: where.url, dataDir: where.dataDir });
  try {
    const blobs = new DatabaseBlobStore(handle.db, { chunkBytes: CHUNK, maxSizeBytes: SIZE + CHUNK });
    const piece = randomBytes(64 * 1024);
    const before = process.memoryUsage().rss;
    peakRss = before;

    let t0 = performance.now();
    const w = await blobs.writer();
    for (let at = 0, i = 0; at < SIZE; at += piece.length, i++) {
      const p = Buffer.from(piece.subarray(0, Math.min(piece.length, SIZE - at)));
      p.writeUInt32BE(i, 0);
      await w.write(p);
      sample();
    }
    const blob = await w.commit();
    const writeS = (performance.now() - t0) / 1000;

    t0 = performance.now();
    let n = 0;
    for await (const c of (await blobs.stream(blob.hash)) as AsyncIterable<Buffer>) {
      n += c.length;
      sample();
    }
    const readS = (performance.now() - t0) / 1000;
    if (n !== SIZE) throw new Error(`read ${n} of ${SIZE} bytes`);

    const mb = SIZE / 1e6;
    console.log(`blobs.backend database on ${KIND}, ${mb} MB blob, ${CHUNK / 1024} KiB chunks`);
    console.log(`write  ${(mb / writeS).toFixed(1)} MB/s (${writeS.toFixed(2)} s)`);
    console.log(`read   ${(mb / readS).toFixed(1)} MB/s (${readS.toFixed(2)} s, streamed)`);
    console.log(`rss    ${(before / 1048576).toFixed(0)} MiB before, peak ${(peakRss / 1048576).toFixed(0)} MiB (+${((peakRss - before) / 1048576).toFixed(0)} MiB)`);
    await blobs.delete(blob.hash);
  } finally {
    await handle.close();
    await where.drop();
  }
}

await main();
