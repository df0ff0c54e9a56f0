import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import nodemailer from 'nodemailer';
import { tempDir, testConfig } from '../helpers/env.js';
import { createLogger } from '../../src/core/index.js';
import { startDemo, type RunningDemo } from '../../src/roles/index.js';

/** A browser in miniature: one cookie jar, the CSRF token it was given. */
class Browser {
  cookie = '';
  csrf = '';
  setCookie = '';
  constructor(private readonly base: string) {}

  async call(method: string, path: string, opts: { json?: unknown; body?: Buffer | string; type?: string; csrf?: string | null } = {}): Promise<{ status: number; headers: Headers; json: any; bytes: Buffer }> {
    const headers: Record<string, string> = {};
    if (this.cookie) headers.cookie = this.cookie;
    const token = opts.csrf === undefined ? this.csrf : opts.csrf;
    if (token) headers['x-csrf-token'] = token;
    let body: string | Buffer | undefined;
    if (opts.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(opts.json);
    } else if (opts.body !== undefined) {
      headers['content-type'] = opts.type ?? 'application/octet-stream';
      body = opts.body;
    }
    const res = await fetch(`${this.base}${path}`, { method, headers, ...(body !== undefined ? { body } : {}) });
    const bytes = Buffer.from(await res.arrayBuffer());
    const sc = res.headers.get('set-cookie');
    if (sc) {
      this.setCookie = sc;
      const v = /^praxis_session=([^;]*)/.exec(sc)?.[1] ?? '';
      this.cookie = v ? `praxis_session=${v}` : '';
    }
    const ct = res.headers.get('content-type') ?? '';
    return { status: res.status, headers: res.headers, json: /json/.test(ct) && bytes.length ? JSON.parse(bytes.toString('utf8')) : undefined, bytes };
  }

  async login(user: string, password: string): Promise<number> {
    const r = await this.call('POST', '/praxis/api/login', { json: { user, password }, csrf: null });
    if (r.status === 200) this.csrf = r.json.csrfToken;
    return r.status;
  }
}

describe('Praxis-Postfach: the reference primary system over the demo stack', () => {
  const d = tempDir();
  let demo: RunningDemo;
  let base: string;
  let practices: Array<{ address: string; password: string }>;
  let a: Browser;
  let b: Browser;
  const attachment = randomBytes(50_000);
  const SUBJECT = '<script>alert("x")</script> Befund';

  before(async () => {
    const config = testConfig(d.path, {
      clientModule: { smtp: { starttls: { port: 0 }, implicit: { port: 0 } }, pop3: { starttls: { port: 0 }, implicit: { port: 0 } } },
      praxis: {
        http: { port: 0 },
        login: { failureDelayMs: 20, throttle: { freeFailures: 3, baseDelayMs: 60_000 } },
        limits: { maxAttachmentBytes: 100_000, maxMessageBytes: 1_000_000, inboxPageSize: 10 },
      },
    });
    demo = await startDemo(config, createLogger('silent'));
    const e = demo.endpointsFile.endpoints.praxis!;
    base = `http://${e.host}:${e.port}`;
    assert.equal((demo.endpointsFile.praxis as { url: string }).url, `${base}/praxis/`);
    practices = demo.endpointsFile.practices as typeof practices;
    a = new Browser(base);
    b = new Browser(base);
  });
  after(async () => {
    await demo?.close();
    d.cleanup();
  });

  test('no API answers without a session (401, problem JSON)', async () => {
    const anon = new Browser(base);
    for (const [m, p] of [['GET', '/praxis/api/session'], ['GET', '/praxis/api/messages'], ['GET', '/praxis/api/messages/x'], ['GET', '/praxis/api/directory?q=Praxis'], ['POST', '/praxis/api/messages'], ['DELETE', '/praxis/api/messages/x'], ['POST', '/praxis/api/logout']] as const) {
      const r = await anon.call(m, p, m === 'GET' ? {} : { json: {} });
      assert.equal(r.status, 401, `${m} ${p}`);
      assert.match(r.headers.get('content-type')!, /^application\/problem\+json/);
    }
    // A made-up session id is no session either.
    anon.cookie = `praxis_session=${randomBytes(32).toString('base64url')}`;
    assert.equal((await anon.call('GET', '/praxis/api/session')).status, 401);
  });

  test('sign-in: a wrong password and an unknown practice are refused alike; the right one gets a session cookie', async () => {
    const [pa, pb] = practices as [(typeof practices)[0], (typeof practices)[0]];
    const probe = new Browser(base);
    assert.equal(await probe.login(pa.address, 'wrong-password'), 401);
    assert.equal(await probe.login('nobody@praxis.kim.test', pa.password), 401);
    assert.equal((await probe.call('POST', '/praxis/api/login', { json: { user: pa.address }, csrf: null })).status, 400);
    assert.equal(await a.login(pa.address.toUpperCase(), pa.password), 200);
    assert.match(a.setCookie, /HttpOnly/);
    assert.match(a.setCookie, /SameSite=Strict/);
    assert.match(a.setCookie, /Path=\/praxis/);
    assert.doesNotMatch(a.setCookie, /Secure/, 'plain HTTP on loopback: no Secure flag');
    assert.equal(await b.login(pb.address, pb.password), 200);
    const s = await a.call('GET', '/praxis/api/session');
    assert.deepEqual(s.json, { user: pa.address, csrfToken: a.csrf });
    assert.equal(s.headers.get('cache-control'), 'no-store');
  });

  test('directory search by name, place, Telematik-ID; filter values escaped', async () => {
    const all = await a.call('GET', '/praxis/api/directory?q=Praxis');
    assert.equal(all.status, 200);
    const mails = all.json.entries.flatMap((e: { mail: string[] }) => e.mail).sort();
    assert.deepEqual(mails, practices.map((p) => p.address).sort());
    const byId = await a.call('GET', '/praxis/api/directory?telematikId=1-20014712');
    assert.deepEqual(byId.json.entries.map((e: { mail: string[] }) => e.mail[0]), [practices[1]!.address]);
    assert.equal(byId.json.entries[0].displayName, 'Praxis B (Demo)');
    // An injection attempt: searched for as a name, it finds nothing (unescaped it would match everyone).
    for (const evil of ['*)(mail=*', '*', ')(|(objectClass=*)']) {
      const r = await a.call('GET', `/praxis/api/directory?name=${encodeURIComponent(evil)}`);
      assert.equal(r.status, 200, evil);
      assert.deepEqual(r.json.entries, [], evil);
    }
    const empty = await a.call('GET', '/praxis/api/directory');
    assert.equal(empty.status, 400);
    assert.match(empty.json.title, /at least one of/);
    assert.equal((await a.call('GET', `/praxis/api/directory?q=${'x'.repeat(200)}`)).status, 400);
  });

  test('CSRF token required on every change', async () => {
    const msg = { to: [practices[1]!.address], subject: 'x', text: 'y' };
    const none = await a.call('POST', '/praxis/api/messages', { json: msg, csrf: null });
    assert.equal(none.status, 403);
    assert.match(none.json.title, /CSRF/);
    assert.equal((await a.call('POST', '/praxis/api/messages', { json: msg, csrf: b.csrf })).status, 403, "another session's token does not do");
    assert.equal((await a.call('DELETE', '/praxis/api/messages/abc', { csrf: 'nonsense' })).status, 403);
    assert.equal((await a.call('POST', '/praxis/api/logout', { csrf: null })).status, 403);
  });

  let uid = '';
  test('A sends to B with an attachment and a Dienstkennung (A_19488-02); B lists it with its KIM results, opens it and downloads the attachment byte-exact', async () => {
    const sent = await a.call('POST', '/praxis/api/messages', {
      json: { to: [practices[1]!.address], subject: SUBJECT, text: 'Sehr geehrte Kollegin,\nanbei der Befund.\n', dienstkennung: 'eAU;Lieferung;V1.0', attachments: [{ filename: 'befund-ä.pdf', contentType: 'application/pdf', content: attachment.toString('base64') }] },
    });
    assert.equal(sent.status, 200, JSON.stringify(sent.json));
    assert.equal(sent.json.ok, true);
    assert.deepEqual(sent.json.recipients.map((r: { address: string; accepted: boolean; code: number }) => [r.address, r.accepted, r.code]), [[practices[1]!.address, true, 250]]);

    const list = await b.call('GET', '/praxis/api/messages');
    assert.equal(list.status, 200);
    assert.match(list.headers.get('content-type')!, /^application\/json/);
    const m = list.json.messages.find((x: { subject: string }) => x.subject === SUBJECT);
    assert.ok(m, 'the message is listed');
    assert.equal(m.dienstkennung, 'eAU;Lieferung;V1.0');
    assert.deepEqual(m.kim.decryption, ['00']);
    assert.deepEqual(m.kim.integrity, ['01']);
    assert.equal(m.kim.status, 'ok');
    assert.equal(m.kim.text_de, 'Entschlüsselt, Signatur gültig');
    assert.equal(m.kim.failureMessage, false);
    assert.match(m.from, /praxis-a@praxis\.kim\.test/);
    // The subject comes back as data inside JSON, never as markup.
    assert.ok(list.bytes.toString('utf8').includes(JSON.stringify(SUBJECT).slice(1, -1)));
    uid = m.uid;

    const retrBefore = demo.praxis!.praxis.pop3Counters.retr;
    const opened = await b.call('GET', `/praxis/api/messages/${encodeURIComponent(uid)}`);
    assert.equal(opened.status, 200);
    assert.match(opened.headers.get('content-type')!, /^application\/json/);
    assert.equal(opened.json.subject, SUBJECT);
    assert.match(opened.json.text, /anbei der Befund/);
    assert.match(opened.json.text, /Die Nachricht wurde entschlüsselt/, "the client module's Vermerk is in the text");
    assert.deepEqual(opened.json.to, [practices[1]!.address]);
    assert.deepEqual(opened.json.attachments.map((x: { filename: string; contentType: string; size: number }) => [x.filename, x.contentType, x.size]), [['befund-ä.pdf', 'application/pdf', attachment.length]]);

    const dl = await b.call('GET', `/praxis/api/messages/${encodeURIComponent(uid)}/attachments/0`);
    assert.equal(dl.status, 200);
    assert.ok(dl.bytes.equals(attachment), 'byte-exact');
    assert.equal(demo.praxis!.praxis.pop3Counters.retr - retrBefore, 1, 'the attachment of the message being read comes from it: no second RETR (and decryption)');
    assert.equal(dl.headers.get('content-type'), 'application/pdf');
    assert.equal(dl.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(dl.headers.get('content-disposition'), `attachment; filename="befund-_.pdf"; filename*=UTF-8''befund-%C3%A4.pdf`);
    assert.equal((await b.call('GET', `/praxis/api/messages/${encodeURIComponent(uid)}/attachments/1`)).status, 404);
    assert.equal((await b.call('GET', `/praxis/api/messages/${encodeURIComponent(uid)}/attachments/x`)).status, 400);
  });

  test('a practice only ever sees its own mailbox', async () => {
    assert.ok(uid);
    const list = await a.call('GET', '/praxis/api/messages');
    assert.ok(!list.json.messages.some((x: { uid: string }) => x.uid === uid));
    assert.equal((await a.call('GET', `/praxis/api/messages/${encodeURIComponent(uid)}`)).status, 404);
    assert.equal((await a.call('GET', `/praxis/api/messages/${encodeURIComponent(uid)}/attachments/0`)).status, 404);
    assert.equal((await a.call('DELETE', `/praxis/api/messages/${encodeURIComponent(uid)}`)).status, 404);
    assert.equal((await b.call('GET', `/praxis/api/messages/${encodeURIComponent(uid)}`)).status, 200, "still in B's mailbox");
  });

  test('parallel requests of one practice (as a browser makes them) all succeed', async () => {
    const path = `/praxis/api/messages/${encodeURIComponent(uid)}`;
    const answers = await Promise.all([b.call('GET', '/praxis/api/messages'), b.call('GET', path), b.call('GET', `${path}/attachments/0`), b.call('GET', '/praxis/api/messages'), b.call('GET', path)]);
    assert.deepEqual(answers.map((r) => r.status), [200, 200, 200, 200, 200], JSON.stringify(answers.map((r) => r.json?.title)));
  });

  test('multipart/form-data works as JSON does', async () => {
    const boundary = '----praxis' + randomBytes(8).toString('hex');
    const part = (name: string, value: string) => `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
    const body = Buffer.concat([
      Buffer.from(part('to', practices[1]!.address) + part('subject', 'Per Formular') + part('text', 'Hallo B') + `--${boundary}\r\nContent-Disposition: form-data; name="attachments"; filename="a.txt"\r\nContent-Type: text/plain\r\n\r\n`),
      Buffer.from('Anhang\r\nzweite Zeile'),
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);
    const r = await a.call('POST', '/praxis/api/messages', { body, type: `multipart/form-data; boundary=${boundary}` });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    const list = await b.call('GET', '/praxis/api/messages');
    const m = list.json.messages.find((x: { subject: string }) => x.subject === 'Per Formular');
    assert.equal(m.dienstkennung, 'KIM-Mail;Default;V1.0', 'the default Dienstkennung');
    const dl = await b.call('GET', `/praxis/api/messages/${encodeURIComponent(m.uid)}/attachments/0`);
    assert.equal(dl.bytes.toString(), 'Anhang\r\nzweite Zeile');
    const broken = await a.call('POST', '/praxis/api/messages', { body: Buffer.from('garbage'), type: `multipart/form-data; boundary=${boundary}` });
    assert.equal(broken.status, 400);
  });

  test('bad drafts get clear answers: 413 for an oversized attachment, 400 for the rest', async () => {
    const big = await a.call('POST', '/praxis/api/messages', { json: { to: [practices[1]!.address], subject: 'gross', text: 'x', attachments: [{ filename: 'big.bin', content: randomBytes(100_001).toString('base64') }] } });
    assert.equal(big.status, 413);
    assert.match(big.json.title, /big\.bin: 100001 bytes, at most 100000 allowed/);
    const huge = await a.call('POST', '/praxis/api/messages', { json: { to: [practices[1]!.address], text: 'x'.repeat(2_000_000) } });
    assert.equal(huge.status, 413);
    for (const [draft, re] of [
      [{ to: [], text: 'x' }, /at least one recipient/],
      [{ to: ['not an address'], text: 'x' }, /not a mail address/],
      [{ to: [practices[1]!.address], subject: 'a\r\nBcc: evil@x.test', text: 'x' }, /no line breaks/],
      [{ to: [practices[1]!.address], text: 'x', dienstkennung: 'nur-eins' }, /dienstkennung/],
      [{ to: [practices[1]!.address], text: 'x', attachments: [{ filename: '../etc/passwd', content: '' }] }, /file name/],
      [{ to: [practices[1]!.address], text: 'x', attachments: [{ filename: 'a', content: '!!!' }] }, /base64/],
    ] as const) {
      const r = await a.call('POST', '/praxis/api/messages', { json: draft });
      assert.equal(r.status, 400, JSON.stringify(draft));
      assert.match(r.json.title, re);
    }
  });

  test('a recipient the client module cannot encrypt for: per-recipient answer with the KIM result', async () => {
    const r = await a.call('POST', '/praxis/api/messages', { json: { to: ['unbekannt@praxis.kim.test'], subject: 'an niemanden', text: 'x' } });
    assert.equal(r.status, 422, JSON.stringify(r.json));
    assert.equal(r.json.ok, false);
    assert.equal(r.json.recipients[0].address, 'unbekannt@praxis.kim.test');
    assert.equal(r.json.recipients[0].accepted, false);
    assert.ok(r.json.recipients[0].code >= 400);
  });

  test("the client module's failure message is recognisable; a plain message is flagged", async () => {
    const sub = demo.endpointsFile.endpoints['smtp-submission']!;
    const pb = practices[1]!;
    const t = nodemailer.createTransport({ host: sub.host, port: sub.port, secure: true, auth: { user: pb.address, pass: pb.password }, tls: { rejectUnauthorized: false } });
    // A KOM-LE message (its version header) that cannot be decrypted: the client module hands out its failure message.
    await t.sendMail({ envelope: { from: pb.address, to: [pb.address] }, raw: `From: ${pb.address}\r\nTo: ${pb.address}\r\nSubject: kaputt\r\nX-KOM-LE-Version: 1.5\r\nMIME-Version: 1.0\r\nContent-Type: application/pkcs7-mime; smime-type=authenticated-enveloped-data\r\nContent-Transfer-Encoding: base64\r\n\r\nAAAA\r\n` });
    await t.sendMail({ from: pb.address, to: pb.address, subject: 'unverschluesselt', text: 'plain' });
    t.close();
    const list = await b.call('GET', '/praxis/api/messages');
    const failure = list.json.messages.find((x: { subject: string }) => x.subject === 'Die Nachricht konnte nicht entschlüsselt werden');
    assert.ok(failure, JSON.stringify(list.json.messages.map((x: { subject: string }) => x.subject)));
    assert.equal(failure.kim.status, 'error');
    assert.equal(failure.kim.failureMessage, true);
    assert.deepEqual(failure.kim.decryption, ['02']);
    assert.match(failure.kim.text_de, /falschen Formats/);
    assert.match(failure.kim.text_en, /wrong format/);
    const plain = list.json.messages.find((x: { subject: string }) => x.subject === 'unverschluesselt');
    assert.equal(plain.kim.status, 'warning');
    assert.match(plain.kim.text_en, /Not a KIM message/);
  });

  test('a large inbox: the second listing is served from the cache (no TOP), pages of inboxPageSize', async () => {
    const sub = demo.endpointsFile.endpoints['smtp-submission']!;
    const pb = practices[1]!;
    const t = nodemailer.createTransport({ pool: true, maxConnections: 1, maxMessages: 1000, host: sub.host, port: sub.port, secure: true, auth: { user: pb.address, pass: pb.password }, tls: { rejectUnauthorized: false } });
    const N = 60;
    for (let i = 0; i < N; i++) await t.sendMail({ from: pb.address, to: pb.address, subject: `Nachricht ${i}`, text: `Nummer ${i}` });
    t.close();
    const counters = demo.praxis!.praxis.pop3Counters;
    const top0 = counters.top;
    const first = await b.call('GET', '/praxis/api/messages');
    assert.ok(counters.top - top0 >= N, 'the new messages were asked for with TOP');
    const total = first.json.total as number;
    assert.ok(total >= N + 3);
    assert.equal(first.json.messages.length, 10);
    assert.equal(first.json.messages[0].subject, `Nachricht ${N - 1}`, 'newest first');
    const top1 = counters.top;
    const commands1 = counters.commands;
    const second = await b.call('GET', '/praxis/api/messages?page=2');
    assert.equal(counters.top, top1, 'no TOP on the second listing');
    assert.equal(counters.commands - commands1, 5, 'USER, PASS, UIDL, LIST, QUIT');
    assert.equal(second.json.page, 2);
    assert.equal(second.json.messages[0].subject, `Nachricht ${N - 11}`);
    const last = await b.call('GET', `/praxis/api/messages?page=${Math.ceil(total / 10) + 1}`);
    assert.deepEqual(last.json.messages, []);
    assert.equal((await b.call('GET', '/praxis/api/messages?page=0')).status, 400);

    // New mail, then a new sign-in: the sign-in's own session takes the new headers while the
    // client module still holds the messages it opened at that login; the listing after asks no TOP.
    const t2 = nodemailer.createTransport({ host: sub.host, port: sub.port, secure: true, auth: { user: pb.address, pass: pb.password }, tls: { rejectUnauthorized: false } });
    for (let i = 0; i < 3; i++) await t2.sendMail({ from: pb.address, to: pb.address, subject: `Nach der Anmeldung ${i}`, text: `Nummer ${i}` });
    t2.close();
    const b2 = new Browser(base);
    const topBeforeSignIn = counters.top;
    assert.equal(await b2.login(pb.address, pb.password), 200);
    assert.ok(counters.top - topBeforeSignIn >= 3, 'the sign-in asked for the new headers');
    const topAfterSignIn = counters.top;
    const fresh = await b2.call('GET', '/praxis/api/messages');
    assert.equal(fresh.json.messages[0].subject, 'Nach der Anmeldung 2');
    assert.equal(counters.top, topAfterSignIn, 'the first listing after sign-in sends no TOP');
  });

  test('delete removes the message from the mailbox', async () => {
    assert.ok(uid);
    assert.equal((await b.call('DELETE', `/praxis/api/messages/${encodeURIComponent(uid)}`)).status, 204);
    assert.equal((await b.call('GET', `/praxis/api/messages/${encodeURIComponent(uid)}`)).status, 404);
    const list = await b.call('GET', '/praxis/api/messages?page=1');
    assert.ok(!list.json.messages.some((x: { uid: string }) => x.uid === uid));
  });

  test('logout ends the session', async () => {
    const c = new Browser(base);
    assert.equal(await c.login(practices[0]!.address, practices[0]!.password), 200);
    const old = c.cookie;
    assert.equal((await c.call('POST', '/praxis/api/logout')).status, 204);
    assert.match(c.setCookie, /Max-Age=0/);
    // The old cookie, sent again, names no session any more.
    c.cookie = old;
    assert.equal((await c.call('GET', '/praxis/api/session')).status, 401);
  });

  test('failed sign-ins are limited per client: after freeFailures, even the right password is refused (429)', async () => {
    const c = new Browser(base);
    let status = 0;
    for (let i = 0; i < 6 && status !== 429; i++) status = await c.login(practices[0]!.address, 'wrong-again');
    assert.equal(status, 429);
    const r = await c.call('POST', '/praxis/api/login', { json: { user: practices[0]!.address, password: practices[0]!.password }, csrf: null });
    assert.equal(r.status, 429);
    assert.ok(Number(r.headers.get('retry-after')) > 0);
    // Existing sessions are not affected.
    assert.equal((await a.call('GET', '/praxis/api/session')).status, 200);
  });
});
