import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closedPort } from '../helpers/net.js';
import { createLogger } from '../../src/core/index.js';
import { Praxis, PraxisError, directoryFilter, kimVersionsOf, kimResultOf, headerFields, checkDraft, composeMessage, DEFAULT_DIENSTKENNUNG } from '../../src/praxis/index.js';
import { parseFilter } from '../../src/wire/ldap/index.js';
import { parseMultipart, boundaryOf } from '../../src/http/praxis/multipart.js';
import { SessionStore } from '../../src/http/praxis/sessions.js';
import { attachmentDisposition } from '../../src/http/praxis/index.js';

test('directory filters: values escaped per RFC 4515, fields combined with AND', () => {
  assert.equal(directoryFilter({ name: '*)(mail=*' }), '(displayName=*\\2a\\29\\28mail=\\2a*)');
  assert.equal(directoryFilter({ telematikId: '1-2\\3\0' }), '(telematikID=1-2\\5c3\\00)');
  const f = directoryFilter({ q: 'Müller', place: 'Berlin', profession: '1.2.276.0.76.4.50' });
  assert.equal(f, '(&(|(displayName=*Müller*)(mail=*Müller*)(l=*Müller*)(telematikID=Müller))(l=*Berlin*)(professionOID=1.2.276.0.76.4.50))');
  // Every filter we build is one a server reads as intended: it parses, and as one AND/OR tree.
  for (const q of [{ name: '*)(mail=*' }, { q: ')(|(objectClass=*)' }, { place: '\\' }]) parseFilter(directoryFilter(q));
  assert.throws(() => directoryFilter({}), /at least one/);
  assert.throws(() => directoryFilter({ q: 'x' }), /at least 2/);
  assert.throws(() => directoryFilter({ name: 'x'.repeat(129) }), /at most 128/);
  assert.throws(() => directoryFilter({ name: '   ' }), /at least one/);
});

test('KIM results in plain words', () => {
  const h = (raw: string) => headerFields(Buffer.from(raw + '\r\n\r\nbody'));
  const ok = kimResultOf(h('X-KIM-DecryptionResult: 00\r\nX-KIM-IntegrityCheckResult: 01'), 'x');
  assert.equal(ok.status, 'ok');
  const warn = kimResultOf(h('X-KIM-DecryptionResult: 00\r\nX-KIM-IntegrityCheckResult: 07'), 'x');
  assert.equal(warn.status, 'warning');
  const bad = kimResultOf(h('X-KIM-DecryptionResult: 00\r\nX-KIM-IntegrityCheckResult: 02\r\nX-KIM-IntegrityCheckResult: 08\r\nX-KIM-Fehlermeldung: 4014'), 'x');
  assert.equal(bad.status, 'error');
  assert.deepEqual(bad.integrity, ['02', '08']);
  assert.deepEqual(bad.fehlermeldung, ['4014']);
  assert.match(bad.text_de, /Integrität der Nachricht wurde verletzt/);
  const key = kimResultOf(h('x-kim-decryptionresult: 01\r\nX-KIM-Fehlermeldung: 4009'), 'Die Nachricht konnte nicht entschlüsselt werden');
  assert.equal(key.status, 'error');
  assert.equal(key.failureMessage, true);
  assert.match(key.text_en, /key is not available/);
  const version = kimResultOf(h('X-KIM-Fehlermeldung: 4008'), 'Die KIM-Version der empfangenen Nachricht wird nicht unterstützt');
  assert.equal(version.failureMessage, true);
  assert.match(version.text_de, /unterstützt die in der Mail verwendete Version nicht/);
  const plain = kimResultOf(h('Subject: x'), 'x');
  assert.equal(plain.status, 'warning');
  // Folded values and junk are read safely.
  const folded = kimResultOf(h('X-KIM-DecryptionResult:\r\n 00\r\nX-KIM-IntegrityCheckResult: 01 <script>'), 'x');
  assert.deepEqual(folded.decryption, ['00']);
  assert.deepEqual(folded.integrity, ['01']);
});

test('composed messages: text/plain with attachments, X-KIM-Dienstkennung, limits', async () => {
  const limits = { maxAttachmentBytes: 10, maxMessageBytes: 10_000, maxAttachments: 2, maxRecipients: 3 };
  const d = checkDraft({ to: ['b@x.test'], cc: [], subject: 'Grüße', text: 'Hallo\n', attachments: [{ filename: 'a.bin', contentType: 'application/octet-stream', content: Buffer.from([0, 1, 2]) }] }, limits);
  assert.equal(d.dienstkennung, DEFAULT_DIENSTKENNUNG);
  const raw = (await composeMessage('a@x.test', d, limits.maxMessageBytes)).toString('latin1');
  assert.match(raw, /^X-KIM-Dienstkennung: KIM-Mail;Default;V1\.0\r$/m);
  assert.match(raw, /^Content-Type: multipart\/mixed;/m);
  assert.match(raw, /^Content-Type: text\/plain; charset=utf-8\r$/m);
  assert.doesNotMatch(raw, /text\/html/);
  assert.doesNotMatch(raw, /[^\r]\n/, 'CRLF line ends only');
  assert.throws(() => checkDraft({ ...d, attachments: [{ filename: 'a', contentType: 'text/plain', content: Buffer.alloc(11) }] }, limits), (e: Error & { tooLarge?: boolean }) => e.tooLarge === true);
  assert.throws(() => checkDraft({ ...d, to: ['a@x.test', 'b@x.test', 'c@x.test', 'd@x.test'] }, limits), /at most 3 recipients/);
  assert.throws(() => checkDraft({ ...d, dienstkennung: 'a;b;c\r\nBcc: x' }, limits), /dienstkennung/);
  assert.throws(() => checkDraft({ ...d, to: ['a@x.test>\r\nRCPT TO:<e@x.test'] }, limits), /not a mail address/);
  assert.throws(() => checkDraft({ ...d, attachments: [{ filename: 'a', contentType: 'text/html\r\nX: y', content: Buffer.alloc(1) }] }, limits), /content type/);
});

test('multipart/form-data: fields and files, malformed bodies refused', () => {
  const b = 'XyZ';
  const body = Buffer.from(`preamble\r\n--${b}\r\nContent-Disposition: form-data; name="to"\r\n\r\na@x.test\r\n--${b}\r\nContent-Disposition: form-data; name="f"; filename="x \\"q\\".bin"\r\nContent-Type: application/pdf\r\n\r\n\r\n--notit\r\n--${b}--\r\n`);
  const parts = parseMultipart(body, boundaryOf(`multipart/form-data; boundary="${b}"`));
  assert.deepEqual(parts.map((p) => [p.name, p.filename, p.contentType, p.data.toString()]), [['to', undefined, undefined, 'a@x.test'], ['f', 'x "q".bin', 'application/pdf', '\r\n--notit']]);
  assert.throws(() => boundaryOf('multipart/form-data'), /boundary/);
  assert.throws(() => parseMultipart(Buffer.from(`--${b}\r\nContent-Disposition: form-data; name="a"\r\n\r\nnot closed`), b), /not closed/);
  assert.throws(() => parseMultipart(Buffer.from(`--${b}\r\nContent-Type: text/plain\r\n\r\nx\r\n--${b}--`), b), /form-data/);
});

test('sessions end after idle time and after their maximum age', () => {
  let t = 1_000_000;
  const store = new SessionStore({ idleMs: 1000, maxMs: 5000, maxSessions: 2 }, () => t);
  const p = { address: 'a@x.test', smtpUser: 's', pop3User: 'p' };
  const s = store.create(p, 'pw');
  assert.equal(s.id.length, 43);
  t += 900;
  assert.equal(store.get(s.id), s);
  t += 900;
  assert.equal(store.get(s.id), s, 'use keeps it alive');
  t += 1001;
  assert.equal(store.get(s.id), undefined, 'idle too long');
  const s2 = store.create(p, 'pw');
  for (let i = 0; i < 6; i++) {
    t += 900;
    store.get(s2.id);
  }
  assert.equal(store.get(s2.id), undefined, 'older than maxMs');
  const [x, y, z] = [store.create(p, '1'), store.create(p, '2'), store.create(p, '3')];
  assert.equal(store.get(x.id), undefined, 'the oldest goes when maxSessions is reached');
  assert.ok(store.get(y.id) && store.get(z.id));
  assert.equal(store.get('short'), undefined);
  store.close();
});

test('download names: an ASCII fallback and the UTF-8 name', () => {
  assert.equal(attachmentDisposition('a"b\\c.pdf'), `attachment; filename="a_b_c.pdf"; filename*=UTF-8''a%22b%5Cc.pdf`);
  assert.equal(attachmentDisposition("Über (1)'s.txt"), `attachment; filename="_ber (1)'s.txt"; filename*=UTF-8''%C3%9Cber%20%281%29%27s.txt`);
});

test('client module or directory not reachable: "unavailable", never taken for a wrong password', async () => {
  const port = await closedPort();
  const praxis = new Praxis({
    practices: [{ address: 'a@x.test', smtpUser: 'a@x.test#h:1#m#c#w', pop3User: 'a@x.test#h:1#m#c#w' }],
    clientModule: { smtp: { host: '127.0.0.1', port, tls: 'implicit' }, pop3: { host: '127.0.0.1', port, tls: 'implicit' }, timeoutMs: 2000 },
    directory: { url: `ldap://127.0.0.1:${port}`, baseDn: 'dc=data,dc=vzd', startTls: false, maxResults: 5, timeoutMs: 2000 },
    limits: { maxAttachmentBytes: 10, maxMessageBytes: 10_000, maxAttachments: 1, maxRecipients: 1, inboxPageSize: 10, inboxCacheEntries: 10 },
    logger: createLogger('silent'),
  });
  const p = praxis.practice(' A@X.test ')!;
  assert.equal(p.address, 'a@x.test');
  const unavailable = (e: unknown) => e instanceof PraxisError && e.kind === 'unavailable';
  await assert.rejects(praxis.checkLogin(p, 'pw'), unavailable);
  await assert.rejects(praxis.listInbox(p, 'pw'), unavailable);
  await assert.rejects(praxis.send(p, 'pw', { to: ['b@x.test'], cc: [], subject: 's', text: 't', attachments: [] }), unavailable);
  await assert.rejects(praxis.search({ q: 'Praxis' }), unavailable);
  await assert.rejects(praxis.search({}), (e: unknown) => e instanceof PraxisError && e.kind === 'badRequest');
});

test('kimVersionsOf: the versions of kimData ("mail,version") and komLeData ("version,mail"), each once', () => {
  assert.deepEqual(kimVersionsOf(['praxis-a@praxis.kim.test,1.5', '1.5,praxis-a@praxis.kim.test']), ['1.5']);
  assert.deepEqual(kimVersionsOf(['a@x.test,1.5+,eAU', '1.0,a@x.test']), ['1.5+', '1.0']);
  assert.deepEqual(kimVersionsOf(['a@x.test', '']), []);
});
