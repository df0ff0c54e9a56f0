import type { Command } from 'commander';
import { createReadStream, statSync, readFileSync } from 'node:fs';
import { once } from 'node:events';
import { configFor, print } from '../context.js';
import { openStore } from '../../store/index.js';
import { UsageError } from '../../core/index.js';
import { Directory, DirectoryAdmin, directoryOptions, exportLdif, entryToLdif, type ImportResult, type ImportProgress } from '../../directory/index.js';

async function withDirectory<T>(cmd: Command, fn: (admin: DirectoryAdmin) => Promise<T>): Promise<T> {
  const { config } = configFor(cmd);
  const store = await openStore(config);
  try {
    return await fn(new DirectoryAdmin(new Directory(store, directoryOptions(config.directory))));
  } finally {
    await store.close();
  }
}

/** Writes to stdout honouring backpressure; a closed pipe (| head) ends quietly. */
async function writeOut(chunk: string): Promise<void> {
  if (!process.stdout.write(chunk)) await once(process.stdout, 'drain');
}

/** A progress bar on a terminal, plain lines otherwise (logs, CI). */
function progressReporter(totalBytes: number): { update(p: ImportProgress): void; done(): void } {
  const tty = process.stderr.isTTY === true;
  const started = Date.now();
  let lastLine = 0;
  return {
    update(p) {
      const frac = totalBytes > 0 ? Math.min(1, p.bytes / totalBytes) : 0;
      const secs = ((Date.now() - started) / 1000).toFixed(1);
      const text = `${p.records} records, ${p.rejected} rejected, ${secs} s`;
      if (tty) {
        const width = 30;
        const filled = Math.round(frac * width);
        process.stderr.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(frac * 100).toFixed(0).padStart(3)}% ${text}`);
      } else if (Date.now() - lastLine >= 2000) {
        lastLine = Date.now();
        process.stderr.write(`import: ${(frac * 100).toFixed(0)}% ${text}\n`);
      }
    },
    done() {
      if (tty) process.stderr.write('\n');
    },
  };
}

function report(r: ImportResult, source: string): void {
  for (const x of r.rejected) process.stderr.write(`${source}:${x.line}: ${x.dn ? `${x.dn}: ` : ''}${x.reason}\n`);
  if (r.rejectedCount > r.rejected.length) process.stderr.write(`… and ${r.rejectedCount - r.rejected.length} more rejected\n`);
  if (r.applied) print(`imported ${r.added} new and ${r.replaced} replaced entries in ${(r.ms / 1000).toFixed(1)} s${r.rejectedCount ? ` (${r.rejectedCount} rejected and skipped)` : ''}`);
  else {
    process.stderr.write(`postamt: ${r.rejectedCount} record(s) rejected; nothing was imported (use --skip-invalid to import the valid ones)\n`);
    process.exitCode = 1;
  }
}

/** `name=value` pairs from --attr. */
function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function registerDirectory(program: Command): void {
  const directory = program
    .command('directory')
    .description('manage the VZD directory (entries uid=…,dc=data,dc=vzd); entries are named by telematikID, uid or DN');

  directory
    .command('import <file>')
    .description('import an LDIF file (content or changetype: add records) in one transaction: all or nothing')
    .option('--replace', 'replace entries whose DN exists already (otherwise they are rejected)')
    .option('--skip-invalid', 'import the valid records even if some are rejected')
    .option('-q, --quiet', 'no progress output')
    .action(async (file: string, o: { replace?: boolean; skipInvalid?: boolean; quiet?: boolean }, cmd: Command) => {
      let size = 0;
      try {
        size = file === '-' ? 0 : statSync(file).size;
      } catch (err) {
        throw new UsageError(`cannot read ${file}: ${(err as Error).message}`);
      }
      const progress = o.quiet ? undefined : progressReporter(size);
      await withDirectory(cmd, async (admin) => {
        const source = file === '-' ? process.stdin : createReadStream(file, { highWaterMark: 1024 * 1024 });
        const r = await admin.import(source as AsyncIterable<Buffer>, {
          replace: o.replace === true,
          skipInvalid: o.skipInvalid === true,
          progressEvery: 2000,
          ...(progress ? { onProgress: (p: ImportProgress) => progress.update(p) } : {}),
        });
        progress?.done();
        report(r, file === '-' ? 'stdin' : file);
      });
    });

  directory
    .command('export')
    .description('write entries as LDIF to standard output (streaming; re-importable)')
    .option('--filter <filter>', 'only entries matching this RFC 4515 filter, e.g. "(mail=*@praxis.example)"')
    .action(async (o: { filter?: string }, cmd: Command) => {
      await withDirectory(cmd, async (admin) => {
        const filter = admin.parseFilterString(o.filter);
        for await (const chunk of exportLdif(admin.dir, filter)) await writeOut(chunk);
      });
    });

  directory
    .command('list')
    .description('list entries (DN, telematikID, displayName, mail)')
    .option('--filter <filter>', 'RFC 4515 filter', '')
    .option('--limit <n>', 'at most this many (1-1000)', (v) => Number(v), 100)
    .option('--after <cursor>', 'continue after this cursor (printed when more entries follow)')
    .option('--json', 'print JSON')
    .action(async (o: { filter: string; limit: number; after?: string; json?: boolean }, cmd: Command) => {
      await withDirectory(cmd, async (admin) => {
        const page = await admin.list({ filter: o.filter, limit: o.limit, ...(o.after ? { after: o.after } : {}) });
        if (o.json) return print(JSON.stringify(page));
        for (const e of page.entries) print([e.dn, e.telematikID, e.attributes.displayName?.[0] ?? '', (e.attributes.mail ?? []).join(' ')].join('\t'));
        if (page.next) process.stderr.write(`more entries follow: --after ${page.next}\n`);
      });
    });

  directory
    .command('show <entry>')
    .description('show one entry (by telematikID, uid or DN) as LDIF, or as JSON')
    .option('--json', 'print JSON (certificates summarised; with --der also their DER in base64)')
    .option('--der', 'with --json: include the certificates')
    .action(async (key: string, o: { json?: boolean; der?: boolean }, cmd: Command) => {
      await withDirectory(cmd, async (admin) => {
        if (o.json) return print(JSON.stringify(await admin.get(key, o.der === true), null, 2));
        process.stdout.write(entryToLdif(admin.dir, await admin.dir.get(key)));
      });
    });

  directory
    .command('add')
    .description('add an entry from flags, or entries from an LDIF snippet (--ldif FILE, - for stdin; all or nothing)')
    .option('--telematik-id <id>', 'telematikID (required with flags)')
    .option('--name <displayName>', 'displayName (required with flags)')
    .option('--uid <uid>', 'the RDN value (default: a random UUID)')
    .option('--mail <address>', 'a mail address (repeatable)', collect, [])
    .option('--attr <name=value>', 'any other attribute, e.g. --attr l=Berlin --attr professionOID=1.2.276.0.76.4.50 (repeatable)', collect, [])
    .option('--cert <file>', 'a certificate (PEM or DER file, repeatable)', collect, [])
    .option('--ldif <file>', 'read LDIF records instead of flags')
    .action(async (o: { telematikId?: string; name?: string; uid?: string; mail: string[]; attr: string[]; cert: string[]; ldif?: string }, cmd: Command) => {
      await withDirectory(cmd, async (admin) => {
        if (o.ldif) {
          const source = o.ldif === '-' ? process.stdin : createReadStream(o.ldif);
          return report(await admin.import(source as AsyncIterable<Buffer>), o.ldif === '-' ? 'stdin' : o.ldif);
        }
        if (!o.telematikId || !o.name) throw new UsageError('give --telematik-id and --name (or --ldif)');
        const attributes: Record<string, string[]> = { telematikID: [o.telematikId], displayName: [o.name] };
        if (o.mail.length) attributes.mail = o.mail;
        for (const a of o.attr) {
          const eq = a.indexOf('=');
          if (eq <= 0) throw new UsageError(`--attr expects name=value, got "${a}"`);
          (attributes[a.slice(0, eq)] ??= []).push(a.slice(eq + 1));
        }
        const certificates = o.cert.map((f) => readFileSync(f).toString('latin1'));
        const e = await admin.add({ ...(o.uid ? { uid: o.uid } : {}), attributes, certificates: certificates.map((c) => (c.includes('-----BEGIN') ? c : Buffer.from(c, 'latin1').toString('base64'))) });
        print(`added ${e.dn}`);
      });
    });

  directory
    .command('rm <entry>')
    .description('remove an entry (by telematikID, uid or DN)')
    .action(async (key: string, _o, cmd: Command) => {
      await withDirectory(cmd, async (admin) => {
        const e = await admin.remove(key);
        print(`removed ${e.dn}`);
      });
    });

  const cert = directory.command('cert').description("an entry's certificates (userCertificate)");
  cert
    .command('add <entry> <file>')
    .description('publish the certificate(s) in a PEM or DER file in the entry (by telematikID, uid or DN)')
    .action(async (key: string, file: string, _o, cmd: Command) => {
      const bytes = readFileSync(file);
      await withDirectory(cmd, async (admin) => {
        for (const r of await admin.addCertificates(key, bytes)) print(`${r.added ? 'added' : 'already present'} ${r.sha256}`);
      });
    });
  cert
    .command('rm <entry> <sha256>')
    .description('remove the certificate with this SHA-256 fingerprint (at least 8 leading hex digits)')
    .action(async (key: string, fp: string, _o, cmd: Command) => {
      await withDirectory(cmd, async (admin) => {
        const n = await admin.removeCertificate(key, fp);
        print(`removed ${n} certificate${n === 1 ? '' : 's'}`);
      });
    });
  cert
    .command('list <entry>')
    .description("list the entry's certificates: SHA-256, subject, issuer, expiry")
    .option('--json', 'print JSON')
    .action(async (key: string, o: { json?: boolean }, cmd: Command) => {
      await withDirectory(cmd, async (admin) => {
        const list = await admin.certificates(key);
        if (o.json) return print(JSON.stringify(list));
        for (const c of list) print(`${c.sha256}\t${c.notAfter}\t${c.subject}\t${c.issuer}`);
      });
    });
}
