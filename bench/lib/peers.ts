/**
 * The peers the benches compare with when this machine runs them: Postfix (SMTP on
 * 127.0.0.1:25, delivering into a Maildir) and Dovecot (POP3 on 127.0.0.1:110 over the same
 * Maildir), as bench/peers/setup-postfix-dovecot.sh sets them up. BENCH_POSTFIX / BENCH_DOVECOT
 * name another host:port, or `off`.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:net';
import { which } from './server.js';

export interface Peer {
  name: string;
  host: string;
  port: number;
  /** The peer's greeting, for the printed table. */
  banner: string;
}

/** The first line a server sends, or null when nothing answers within a second. */
function banner(host: string, port: number): Promise<string | null> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    let buf = '';
    const done = (v: string | null) => {
      clearTimeout(timer);
      s.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done(null), 1000);
    s.on('data', (d) => {
      buf += d.toString('latin1');
      const nl = buf.indexOf('\n');
      if (nl >= 0) done(buf.slice(0, nl).trim());
    });
    s.on('error', () => done(null));
  });
}

async function peer(name: string, env: string | undefined, fallback: string, expect: RegExp): Promise<Peer | null> {
  if (env === 'off') return null;
  const [host, port] = (env ?? fallback).split(':') as [string, string];
  const b = await banner(host, Number(port));
  return b && expect.test(b) ? { name, host, port: Number(port), banner: b } : null;
}

/** Postfix's smtpd, when installed and listening. */
export async function postfixPeer(): Promise<Peer | null> {
  if (!process.env.BENCH_POSTFIX && !which('postfix') && !which('/usr/sbin/postfix')) return null;
  return peer('postfix', process.env.BENCH_POSTFIX, '127.0.0.1:25', /^220 /);
}

/** Dovecot's POP3, when installed and listening. */
export async function dovecotPeer(): Promise<Peer | null> {
  if (!process.env.BENCH_DOVECOT && !which('dovecot') && !which('/usr/sbin/dovecot')) return null;
  return peer('dovecot', process.env.BENCH_DOVECOT, '127.0.0.1:110', /^\+OK/);
}

/** The Maildir Postfix delivers box@bench.test into (the setup script's). */
export const PEER_MAILDIR = process.env.BENCH_PEER_MAILDIR ?? '/home/box/Maildir';

/** Messages delivered into a Maildir (new and cur). */
export function maildirCount(dir = PEER_MAILDIR): number {
  let n = 0;
  for (const sub of ['new', 'cur']) {
    try {
      n += readdirSync(join(dir, sub)).length;
    } catch {
      /* not there yet */
    }
  }
  return n;
}

/** Empties the Maildir between runs (files only; Dovecot's index is dropped too). */
export function clearMaildir(dir = PEER_MAILDIR): void {
  for (const sub of ['new', 'cur', 'tmp']) {
    for (const f of readdirSync(join(dir, sub))) rmSync(join(dir, sub, f), { force: true });
  }
  for (const f of readdirSync(dir)) if (f.startsWith('dovecot')) rmSync(join(dir, f), { force: true, recursive: true });
}

/** The smtp-source binary (Debian package postfix), or null. */
export function smtpSourcePath(): string | null {
  return which('smtp-source') ?? (which('/usr/sbin/smtp-source') ? '/usr/sbin/smtp-source' : null);
}

/** Runs smtp-source against host:port and returns the seconds it took. */
export function runSmtpSource(bin: string, target: { host: string; port: number }, opts: { sessions: number; messages: number; size: number; reuse: boolean; to: string }): number {
  const t0 = performance.now();
  const args = [...(opts.reuse ? ['-d'] : []), '-s', String(opts.sessions), '-m', String(opts.messages), '-l', String(opts.size), '-f', 'load@remote.test', '-t', opts.to, `${target.host}:${target.port}`];
  execFileSync(bin, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  return (performance.now() - t0) / 1000;
}
