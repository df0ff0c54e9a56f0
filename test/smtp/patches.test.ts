import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';
import { SMTPStream } from 'smtp-server/lib/smtp-stream.js';
import { SMTP_SERVER_VERSION, installSmtpServerPatches, installedSmtpServer, smtpServerMismatches, type SmtpServerInternals } from '../../src/smtp/patches.js';

// src/smtp/patches.ts changes smtp-server's private methods. These tests fail when the installed
// smtp-server is no longer the one the patches were written for, or when the check that guards
// them would not notice a change.

const real = installedSmtpServer();
const connectionProto = SMTPConnection.prototype as unknown as Record<string, unknown>;
const streamProto = SMTPStream.prototype as unknown as Record<string, unknown>;

function withConnection(changes: Record<string, unknown>): SmtpServerInternals {
  return { ...real, connection: { ...real.connection, ...changes } };
}

test('package.json pins smtp-server exactly, to the version the patches are for, and that version is installed', () => {
  const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { dependencies: Record<string, string> };
  const lock = JSON.parse(readFileSync('package-lock.json', 'utf8')) as { packages: Record<string, { version?: string; dependencies?: Record<string, string> }> };
  assert.equal(pkg.dependencies['smtp-server'], SMTP_SERVER_VERSION, 'an exact version, no range');
  assert.equal(lock.packages['']!.dependencies!['smtp-server'], SMTP_SERVER_VERSION);
  assert.equal(lock.packages['node_modules/smtp-server']!.version, SMTP_SERVER_VERSION);
  assert.equal(real.version, SMTP_SERVER_VERSION);
});

test('the installed smtp-server has every method the patches touch, with the arity and code they rely on', () => {
  assert.deepEqual(smtpServerMismatches(real), []);
});

test('the check notices a missing method, a changed arity, changed code and another version', () => {
  const missing = smtpServerMismatches(withConnection({ send: undefined }));
  assert.equal(missing.length, 1);
  assert.match(missing[0]!, /^SMTPConnection\.prototype\.send .*: not a function$/);

  const arity = smtpServerMismatches(withConnection({ send: function (code: number, data: unknown) { return [code, data]; } }));
  assert.ok(arity.some((p) => /SMTPConnection\.prototype\.send .*takes 2 parameters, expected 3/.test(p)), arity.join('\n'));

  // Same arity, but the socket field the reply batching corks is renamed.
  type Conn = { _tlsUpgrade?: boolean; socket: { write(s: string): void }; _getEnhancedStatusCode(code: number, context: unknown): string };
  const renamed = function (this: Conn, code: number, data: string, context: unknown): void {
    if (!this._tlsUpgrade) this.socket.write(`${code} ${this._getEnhancedStatusCode(code, context)} ${data}`);
  };
  const code = smtpServerMismatches(withConnection({ send: renamed }));
  assert.equal(code.length, 1);
  assert.match(code[0]!, /send .*no longer contains "this\._socket\.write\(", "this\._upgrading"/);

  const feed = smtpServerMismatches({ ...real, stream: { ...real.stream, _feedDataStream: undefined, _countDataBytes: () => undefined } });
  assert.deepEqual(
    feed.map((p) => p.replace(/ \(.*\)/, '')),
    ['SMTPStream.prototype._feedDataStream: not a function', 'SMTPStream.prototype._countDataBytes: takes 0 parameters, expected 1', 'SMTPStream.prototype._countDataBytes: its code no longer contains "this._atDataStart = false", "this.dataBytes += len"'],
  );

  const auth = smtpServerMismatches(withConnection({ handler_AUTH: function (command: unknown, callback: unknown) { return [command, callback]; } }));
  assert.match(auth.join('\n'), /handler_AUTH .*Unrecognized authentication type/);

  // What the listener relies on without patching: connect() registering its connection, the STARTTLS flag.
  const connect = smtpServerMismatches({ ...real, server: { connect: function (socket: unknown, options: unknown) { return [socket, options]; } } });
  assert.match(connect.join('\n'), /SMTPServer\.prototype\.connect .*no longer contains "this\.connections\.add\(connection\)"/);
  const upgrade = smtpServerMismatches(withConnection({ upgrade: function (callback: unknown, secureCallback: unknown) { return [callback, secureCallback]; } }));
  assert.match(upgrade.join('\n'), /SMTPConnection\.prototype\.upgrade .*"this\._upgrading = true"/);

  assert.deepEqual(smtpServerMismatches({ ...real, version: '3.22.0' }), [`smtp-server 3.22.0 is installed, the patches are written for ${SMTP_SERVER_VERSION}`]);
  assert.ok(smtpServerMismatches({ version: SMTP_SERVER_VERSION, connection: {}, stream: {}, server: {} }).length >= 9, 'a fake library without any of them');
});

test('installing is idempotent and keeps the library\'s own methods for the check', () => {
  installSmtpServerPatches();
  const send = connectionProto.send;
  const feed = streamProto._feedDataStream;
  assert.notEqual(send, real.connection.send);
  assert.notEqual(feed, real.stream._feedDataStream);
  installSmtpServerPatches();
  assert.equal(connectionProto.send, send, 'not wrapped twice');
  assert.equal(streamProto._feedDataStream, feed);
  assert.equal(installedSmtpServer().connection.send, real.connection.send, 'the library\'s own send, not ours');
  assert.deepEqual(smtpServerMismatches(installedSmtpServer()), []);
});

test('an SMTP listener refuses to start on an smtp-server whose send changed, naming what changed', () => {
  // A fresh process: smtp-server's send replaced (as a new release might) before the listener is made.
  const url = (p: string) => pathToFileURL(p).href;
  const script = `
    import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';
    const { SmtpListener } = await import(${JSON.stringify(url('dist/src/smtp/index.js'))});
    SMTPConnection.prototype.send = function (code, data) { this._socket.write(code + ' ' + data + '\\r\\n'); };
    try {
      new SmtpListener({ name: 'mx', host: '127.0.0.1', port: 0, tlsMode: 'none', auth: false, requireAuth: false, hostname: 'mx.test', limits: {}, backend: {}, logger: {}, metrics: {} });
      console.log('started');
    } catch (err) {
      console.log(err.message);
    }`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^smtp-server cannot be patched \(Postamt relies on its private methods, see src\/smtp\/patches\.ts\):\n/);
  assert.match(r.stdout, /SMTPConnection\.prototype\.send .*takes 2 parameters, expected 3/);
  assert.match(r.stdout, /no longer contains "this\._getEnhancedStatusCode\(code, context\)"/);
  assert.doesNotMatch(r.stdout, /started/);
});
