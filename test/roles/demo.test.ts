import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import { tempDir } from '../helpers/env.js';
import { runSync, spawnPostamt } from '../helpers/process.js';
import type { EndpointsFile } from '../../src/roles/index.js';

test('`postamt start` seeds a demo, writes endpoints.json, serves SMTP, POP3, LDAP and HTTP, and stops cleanly on SIGINT', { timeout: 60_000 }, async () => {
  const d = tempDir();
  try {
    const cfg = join(d.path, 'postamt.yaml');
    // Ephemeral ports so the test never collides with a running demo.
    writeFileSync(cfg, `dataDir: ${d.path}\nservice:\n  smtp:\n    mx: { port: 0 }\n    submission: { port: 0 }\n  pop3:\n    starttls: { port: 0 }\n    implicit: { port: 0 }\n  http: { port: 0 }\ndirectory:\n  ldap:\n    starttls: { port: 0 }\n    implicit: { port: 0 }\nclientModule:\n  smtp:\n    starttls: { port: 0 }\n    implicit: { port: 0 }\n  pop3:\n    starttls: { port: 0 }\n    implicit: { port: 0 }\n`);
    const p = await spawnPostamt(['-c', cfg, 'start'], d.path);
    const file = JSON.parse(readFileSync(join(d.path, 'endpoints.json'), 'utf8')) as EndpointsFile;
    assert.equal(statSync(join(d.path, 'endpoints.json')).mode & 0o777, 0o600, 'endpoints.json holds passwords: owner only');
    assert.deepEqual(Object.keys(file.endpoints).sort(), ['cm-pop3', 'cm-pop3s', 'cm-smtp', 'cm-smtps', 'http', 'konnektor-sim', 'ldap', 'ldaps', 'pop3', 'pop3s', 'praxis', 'smtp-mx', 'smtp-submission']);
    assert.deepEqual(file.endpoints['smtp-submission']!.tls, 'implicit');
    assert.equal(file.accounts.length, 2);
    const out = p.stdout.join('\n');
    for (const a of file.accounts) assert.ok(out.includes(a.address) && out.includes(a.password), 'credentials are printed');
    assert.match(out, /SHA-256 fingerprint [0-9A-F:]{95}/);

    // The archive endpoint (MailStore Application Integration): printed, in endpoints.json, answering curl.
    const integ = file.integration as { url: string; user: string; password: string };
    assert.ok(out.includes(integ.url) && out.includes(integ.password), 'the integration endpoint and its password are printed');
    const users = JSON.parse(runSync('curl', ['-sS', '-u', `${integ.user}:${integ.password}`, '-d', 'cmd=list', integ.url], { check: true }).stdout) as Array<{ userName: string }>;
    assert.deepEqual(users.map((u) => u.userName).sort(), file.accounts.map((x) => x.address).sort());

    const [a, b] = file.accounts as [EndpointsFile['accounts'][0], EndpointsFile['accounts'][0]];
    const sub = file.endpoints['smtp-submission']!;
    const transport = nodemailer.createTransport({ host: sub.host, port: sub.port, secure: true, auth: { user: a.address, pass: a.password }, tls: { rejectUnauthorized: false } });
    await transport.sendMail({ from: a.address, to: b.address, subject: 'Demo', text: 'Hallo Praxis B\n' });
    transport.close();

    // curl is a POP3 client that is not ours; pop3s with the self-signed certificate pinned via --cacert would need the
    // name to match, so -k here; the fingerprint check is the operator's job.
    const pop3s = file.endpoints.pop3s!;
    const listing = runSync('curl', ['-sS', '-k', '--user', `${b.address}:${b.password}`, `pop3s://${pop3s.host}:${pop3s.port}/`], { check: true }).stdout;
    assert.match(listing, /^1 \d+\r?\n/);
    const msg = runSync('curl', ['-sS', '-k', '--user', `${b.address}:${b.password}`, `pop3s://${pop3s.host}:${pop3s.port}/1`], { check: true }).stdout;
    assert.match(msg, /Subject: Demo/);
    assert.match(msg, /Hallo Praxis B/);

    // ldapsearch (OpenLDAP) finds practice A's directory entry, fed by the account, over StartTLS.
    const ldap = file.endpoints.ldap!;
    assert.equal(ldap.tls, 'starttls');
    const entry = runSync('ldapsearch', ['-x', '-ZZ', '-o', 'ldif-wrap=no', '-H', `ldap://${ldap.host}:${ldap.port}`, '-b', 'dc=data,dc=vzd', `(mail=${a.address})`, 'telematikID', 'komLeData'], { env: { ...process.env, LDAPTLS_REQCERT: 'never' }, check: true }).stdout;
    assert.match(entry, /^telematikID: 1-20014711$/m);
    assert.match(entry, new RegExp(`^komLeData: [0-9.]+,${a.address}$`, 'm'));
    // Both ENC certificates of the practice's SMC-B are published (RSA-2048 and brainpoolP256r1), the OSIG ones are not.
    const certs = runSync('ldapsearch', ['-x', '-ZZ', '-o', 'ldif-wrap=no', '-H', `ldap://${ldap.host}:${ldap.port}`, '-b', 'dc=data,dc=vzd', `(mail=${a.address})`, 'userCertificate;binary'], { env: { ...process.env, LDAPTLS_REQCERT: 'never' }, check: true }).stdout;
    const published = [...certs.matchAll(/^userCertificate;binary:: (.*)$/gm)].map((m) => Buffer.from(m[1]!, 'base64').toString('hex')).sort();
    const pemDer = (file: string): string => Buffer.from(readFileSync(join(d.path, 'pki', 'praxis-a', file), 'latin1').replace(/-----[A-Z ]+-----|\s/g, ''), 'base64').toString('hex');
    assert.deepEqual(published, [pemDer('enc.pem'), pemDer('enc-ecc.pem')].sort());
    assert.ok(!published.includes(pemDer('osig.pem')) && !published.includes(pemDer('osig-ecc.pem')));

    // The practices' primary systems, through the client module: A sends signed and encrypted,
    // B fetches with curl (a POP3 client that is not ours) and gets the plaintext with both results 00.
    const practices = file.practices as Array<{ address: string; password: string; smtpUser: string; pop3User: string }>;
    assert.equal(practices.length, 2);
    for (const p of practices) assert.ok(out.includes(p.smtpUser) && out.includes(p.pop3User), 'the PS user names are printed');
    const [pa, pb] = practices as [(typeof practices)[0], (typeof practices)[0]];
    const cmSmtp = file.endpoints['cm-smtp']!;
    const ps = nodemailer.createTransport({ host: cmSmtp.host, port: cmSmtp.port, secure: false, ignoreTLS: true, auth: { user: pa.smtpUser, pass: pa.password } });
    await ps.sendMail({ from: pa.address, to: pb.address, subject: 'KOM-LE Demo', text: 'Vertraulicher Befund\n' });
    ps.close();
    const cmPop3 = file.endpoints['cm-pop3']!;
    // The KIM user name holds a colon (host:port), so curl gets it percent-encoded in the URL, not via --user.
    const kimUrl = `pop3://${encodeURIComponent(pb.pop3User)}:${encodeURIComponent(pb.password)}@${cmPop3.host}:${cmPop3.port}`;
    const kimList = runSync('curl', ['-sS', `${kimUrl}/`], { check: true }).stdout;
    const last = kimList.trim().split(/\r?\n/).length;
    const kim = runSync('curl', ['-sS', `${kimUrl}/${last}`], { check: true }).stdout;
    assert.match(kim, /^X-KIM-DecryptionResult: 00\r?$/m);
    assert.match(kim, /^X-KIM-IntegrityCheckResult: 01\r?$/m);
    assert.match(kim, /Vertraulicher Befund/);

    // The Praxis-Postfach: its URL printed and in endpoints.json; without a session its API answers 401.
    const praxisUrl = (file.praxis as { url: string }).url;
    assert.ok(out.includes(praxisUrl), 'the Praxis-Postfach URL is printed');
    assert.match(runSync('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', `${praxisUrl}api/messages`], { check: true }).stdout, /^401$/);

    const http = file.endpoints.http!;
    const health = runSync('curl', ['-sS', `http://${http.host}:${http.port}/healthz`], { check: true }).stdout;
    assert.deepEqual(JSON.parse(health), { status: 'ok', checks: { database: 'ok' } });
    const metrics = runSync('curl', ['-sS', `http://${http.host}:${http.port}/metrics`], { check: true }).stdout;
    assert.match(metrics, /postamt_smtp_messages_accepted_total\{listener="smtp-submission"\} 2/);
    assert.match(metrics, /postamt_smtp_messages_accepted_total\{listener="cm-smtp"\} 1/);
    assert.match(metrics, /# TYPE postamt_smtp_connections_total counter/);
    assert.match(metrics, /postamt_ldap_operations_total\{listener="ldap",op="search",result="success"\} [1-9]\d*/);
    const missing = runSync('curl', ['-sS', '-w', '\n%{http_code}', `http://${http.host}:${http.port}/nope`], { check: true }).stdout;
    assert.match(missing, /"status":404[\s\S]*\n404$/);

    p.child.kill('SIGINT');
    const exit = await p.exited;
    assert.equal(exit.code, 0, 'Ctrl-C shuts down cleanly');

    // A second start finds the store seeded and prints the same credentials again.
    const again = await spawnPostamt(['-c', cfg, 'start'], d.path);
    const file2 = JSON.parse(readFileSync(join(d.path, 'endpoints.json'), 'utf8')) as EndpointsFile;
    assert.deepEqual(file2.accounts, file.accounts);
    again.child.kill('SIGTERM');
    assert.equal((await again.exited).code, 0);
  } finally {
    d.cleanup();
  }
});
