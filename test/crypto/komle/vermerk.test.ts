import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { simpleParser, type ParsedMail } from 'mailparser';
import { appendVermerk } from '../../../src/crypto/komle/vermerk.js';
import { mime } from '../../../src/wire/index.js';
import { prng } from '../../helpers/prng.js';

// The client module's notes in the decrypted message (gemSpec_CM_KOMLE KOM-LE-A_2179-01,
// KOM-LE-A_2050-05): in the text part's format, charset and transfer encoding, every other byte
// kept. The byte-preserving multipart splitter they rest on is tested in wire/mime/multipart.test.ts.

const IDS = 'KOM-LE-A_2179-01 / KOM-LE-A_2050-05';
const DECRYPTED = 'Die Nachricht wurde entschlüsselt.';
const VERIFIED = 'Die Signatur wurde erfolgreich geprüft.';
const NOTE = [DECRYPTED, VERIFIED];
const SEP = '-'.repeat(45);
const PDF = Buffer.from('%PDF-1.4\r\n%\xe4\xfc\xf6\xdf\r\n1 0 obj\r\n<< /Type /Catalog >>\r\nendobj\r\n%%EOF\r\n', 'latin1');
const PDF_B64 = mime.encodeBase64Lines(PDF).toString('latin1');

const HEAD = ['Date: Fri, 9 Feb 2012 12:07:17 +0100', 'MIME-Version: 1.0', 'From: mustermann@komle.de', 'To: musterfrau@komle.de', 'Subject: Arztbrief'];

/** A message from header lines and a body (latin1 string or bytes), CRLF. */
function message(head: readonly string[], body: string | Buffer): Buffer {
  return Buffer.concat([Buffer.from(head.map((l) => l + '\r\n').join('') + '\r\n', 'latin1'), typeof body === 'string' ? Buffer.from(body, 'latin1') : body]);
}

const utf8 = (s: string): string => Buffer.from(s, 'utf8').toString('latin1');
const latin1 = (b: Buffer): string => b.toString('latin1');

function headerOf(b: Buffer): mime.HeaderBlock {
  return mime.readHeaderBlock(b);
}
function bodyOf(b: Buffer): Buffer {
  return b.subarray(headerOf(b).bodyStart);
}
const field = (b: Buffer, name: string): string | undefined => mime.findField(headerOf(b).fields, name)?.value;

async function parse(b: Buffer): Promise<ParsedMail> {
  return simpleParser(b);
}

/** RFC 2045 6.7 decoding, strict enough for the tests: soft breaks removed, =XX decoded. */
function qpDecode(text: string): Buffer {
  const joined = text.replace(/=\r?\n/g, '').replace(/[ \t]+(?=\r?\n|$)/g, '');
  const bytes: number[] = [];
  for (let i = 0; i < joined.length; i++) {
    if (joined[i] === '=' && /^[0-9A-F]{2}$/i.test(joined.slice(i + 1, i + 3))) {
      bytes.push(parseInt(joined.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(joined.charCodeAt(i));
  }
  return Buffer.from(bytes);
}

const decodeNcr = (html: string): string => html.replace(/&#(\d+);/g, (_, n: string) => String.fromCodePoint(Number(n)));

function assertLineLengths(b: Buffer, max = 998): void {
  for (const line of latin1(b).split(/\r?\n/)) assert.ok(line.length <= max, `line of ${line.length} octets`);
}

/** The first text part's bytes (between delimiters) of a multipart body. */
function partsOf(b: Buffer, boundary: string): Buffer[] {
  const body = bodyOf(b);
  const split = mime.splitMultipart(body, boundary);
  assert.equal(split.ok, true, 'the result splits');
  if (!split.ok) return [];
  return split.parts.map((p) => body.subarray(p.start, p.end));
}

describe(`${IDS}: the note in a single text body`, () => {
  test(`${IDS}: text/plain UTF-8 8bit: separator and lines appended in UTF-8`, async () => {
    const body = utf8('Sehr geehrte Frau Dr. Musterfrau,\r\nGrüße\r\n');
    const msg = message([...HEAD, 'Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: 8bit'], body);
    const out = appendVermerk(msg, NOTE);
    assert.equal(latin1(out), latin1(msg) + utf8(`${SEP}\r\n${DECRYPTED}\r\n${VERIFIED}\r\n`));
    assert.ok((await parse(out)).text!.includes(`${SEP}\n${DECRYPTED}\n${VERIFIED}`));
  });

  test(`${IDS}: a last line without line break gets one first, and the text still ends without one`, () => {
    const msg = message([...HEAD, 'Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: 8bit'], 'Hallo');
    assert.equal(latin1(bodyOf(appendVermerk(msg, [DECRYPTED]))), utf8(`Hallo\r\n${SEP}\r\n${DECRYPTED}`));
  });

  test(`${IDS}: US-ASCII 7bit is relabelled UTF-8 8bit (other parameters and fields kept), then UTF-8 appended`, async () => {
    const msg = message([...HEAD, 'Content-Type: text/plain; charset=us-ascii; format=flowed', 'Content-Transfer-Encoding: 7bit', 'X-Other: 1'], 'Hallo\r\n');
    const out = appendVermerk(msg, NOTE);
    const fields = headerOf(out).fields;
    assert.deepEqual(
      fields.map((f) => f.name),
      [...HEAD.map((l) => l.slice(0, l.indexOf(':'))), 'Content-Type', 'Content-Transfer-Encoding', 'X-Other'],
    );
    assert.equal(field(out, 'Content-Type'), 'text/plain; charset=utf-8; format=flowed');
    assert.equal(field(out, 'Content-Transfer-Encoding'), '8bit');
    assert.ok((await parse(out)).text!.includes(DECRYPTED));
  });

  test(`${IDS}: no Content-Type at all (text/plain; charset=us-ascii): Content-Type, CTE and MIME-Version added`, async () => {
    const msg = message(['From: a@b.de', 'Subject: x'], 'Hallo\r\n');
    const out = appendVermerk(msg, NOTE);
    assert.equal(field(out, 'Content-Type'), 'text/plain; charset=utf-8');
    assert.equal(field(out, 'Content-Transfer-Encoding'), '8bit');
    assert.equal(field(out, 'MIME-Version'), '1.0');
    assert.ok(latin1(out).startsWith('From: a@b.de\r\nSubject: x\r\n'));
    assert.ok((await parse(out)).text!.includes(`${DECRYPTED}\n${VERIFIED}`));
  });

  test(`${IDS}: US-ASCII label over 8-bit bytes is not relabelled (it would change their meaning): ASCII transliteration`, () => {
    const msg = message([...HEAD, 'Content-Type: text/plain; charset=us-ascii', 'Content-Transfer-Encoding: 8bit'], 'Gr\xfc\xdfe\r\n');
    const out = appendVermerk(msg, NOTE);
    assert.equal(field(out, 'Content-Type'), 'text/plain; charset=us-ascii');
    assert.ok(latin1(out).endsWith('Die Nachricht wurde entschluesselt.\r\nDie Signatur wurde erfolgreich geprueft.\r\n'));
  });

  test(`${IDS}: ISO-8859-1 8bit (gematik's example): Latin-1 bytes for the umlauts`, async () => {
    const body = 'Mit Freundlichen Gr\xfc\xdfen\r\n\r\nDr. med. Mustermann\r\nArzt f\xfcr Allgemeinmedizin\r\n';
    const msg = message([...HEAD, 'Content-Type: text/plain; charset="iso-8859-1"', 'Content-Transfer-Encoding: 8bit'], body);
    const out = appendVermerk(msg, NOTE);
    assert.equal(latin1(bodyOf(out)), `${body}${SEP}\r\nDie Nachricht wurde entschl\xfcsselt.\r\nDie Signatur wurde erfolgreich gepr\xfcft.\r\n`);
    assert.equal(field(out, 'Content-Type'), 'text/plain; charset="iso-8859-1"', 'header unchanged');
    assert.ok((await parse(out)).text!.includes(`${DECRYPTED}\n${VERIFIED}`));
  });

  test(`${IDS}: windows-1252 and ISO-8859-15 get Latin-1 bytes too; another charset an ASCII transliteration`, async () => {
    for (const cs of ['windows-1252', 'ISO-8859-15']) {
      const out = appendVermerk(message([...HEAD, `Content-Type: text/plain; charset=${cs}`, 'Content-Transfer-Encoding: 8bit'], 'x\r\n'), NOTE);
      assert.ok(latin1(out).includes('entschl\xfcsselt.'), cs);
      assert.ok((await parse(out)).text!.includes(DECRYPTED), cs);
    }
    const out = appendVermerk(message([...HEAD, 'Content-Type: text/plain; charset=koi8-r', 'Content-Transfer-Encoding: 8bit'], 'x\r\n'), NOTE);
    assert.ok(latin1(out).endsWith(`${SEP}\r\nDie Nachricht wurde entschluesselt.\r\nDie Signatur wurde erfolgreich geprueft.\r\n`));
  });

  test(`${IDS}: UTF-16 (ASCII bytes are not its text) and unknown CTE count as no text: the message is wrapped`, async () => {
    for (const head of ['Content-Type: text/plain; charset=utf-16', 'Content-Transfer-Encoding: x-uuencode']) {
      const msg = message([...HEAD, head], 'begin 644 x\r\n');
      const out = appendVermerk(msg, NOTE);
      assert.match(field(out, 'Content-Type')!, /^multipart\/mixed; boundary="/);
      assert.ok((await parse(out)).text!.includes(DECRYPTED), head);
    }
  });

  test(`${IDS}: quoted-printable UTF-8: the note quoted-printable in UTF-8`, async () => {
    const body = 'Gr=C3=BC=C3=9Fe\r\n';
    const msg = message([...HEAD, 'Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: quoted-printable'], body);
    const out = appendVermerk(msg, NOTE);
    const added = latin1(bodyOf(out)).slice(body.length);
    assert.equal(added, `${SEP}\r\nDie Nachricht wurde entschl=C3=BCsselt.\r\nDie Signatur wurde erfolgreich gepr=C3=BCft.\r\n`);
    assert.equal(qpDecode(latin1(bodyOf(out))).toString('utf8'), `Grüße\r\n${SEP}\r\n${DECRYPTED}\r\n${VERIFIED}\r\n`);
    assert.ok((await parse(out)).text!.includes(`Grüße\n${SEP}\n${DECRYPTED}`));
  });

  test(`${IDS}: quoted-printable ISO-8859-1, a body ending in a soft line break, a long note line`, async () => {
    const long = 'Grund: ' + 'ä'.repeat(120);
    for (const body of ['Gr=FC=DFe=\r\n', 'Gr=FC=DFe=', 'Gr=FC=DFe']) {
      const msg = message([...HEAD, 'Content-Type: text/plain; charset=iso-8859-1', 'Content-Transfer-Encoding: quoted-printable'], body);
      const out = appendVermerk(msg, [...NOTE, long]);
      assertLineLengths(out, 76);
      assert.equal(qpDecode(latin1(bodyOf(out))).toString('latin1'), `Gr\xfc\xdfe\r\n${SEP}\r\nDie Nachricht wurde entschl\xfcsselt.\r\nDie Signatur wurde erfolgreich gepr\xfcft.\r\nGrund: ${'\xe4'.repeat(120)}`, body);
      const text = (await parse(out)).text!;
      assert.ok(text.includes(`Grüße\n${SEP}\n${DECRYPTED}\n${VERIFIED}\n${long}`), body);
    }
  });

  test(`${IDS}: quoted-printable US-ASCII is relabelled UTF-8 (CTE kept)`, async () => {
    const msg = message([...HEAD, 'Content-Type: text/plain; charset=us-ascii', 'Content-Transfer-Encoding: quoted-printable'], 'a=3Db\r\n');
    const out = appendVermerk(msg, NOTE);
    assert.equal(field(out, 'Content-Type'), 'text/plain; charset=utf-8');
    assert.equal(field(out, 'Content-Transfer-Encoding'), 'quoted-printable');
    assert.ok((await parse(out)).text!.includes(`a=b\n${SEP}\n${DECRYPTED}`));
  });

  test(`${IDS}: base64 text: decoded, note appended, re-encoded in lines of 76`, async () => {
    const text = Buffer.from('Sehr geehrte Frau Musterfrau,\r\n' + 'hiermit sende ich Ihnen den Arztbrief für Herrn H. Muster.\r\n'.repeat(3), 'utf8');
    const msg = message([...HEAD, 'Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: base64'], mime.encodeBase64Lines(text));
    const out = appendVermerk(msg, NOTE);
    const lines = latin1(bodyOf(out)).split('\r\n');
    assert.equal(lines.pop(), '', 'ends with CRLF like the original');
    assert.ok(lines.slice(0, -1).every((l) => l.length === 76));
    assert.equal(mime.decodeBase64Body(bodyOf(out))!.toString('utf8'), `${text.toString('utf8')}${SEP}\r\n${DECRYPTED}\r\n${VERIFIED}\r\n`);
    assert.ok((await parse(out)).text!.includes(DECRYPTED));
  });

  test(`${IDS}: text/html: <hr> and a paragraph before the last </body>, non-ASCII as character references`, async () => {
    const html = '<html><body><p>Gr&uuml;&szlig;e</p><!-- </body> --></BODY></html>\r\n';
    const msg = message([...HEAD, 'Content-Type: text/html; charset=iso-8859-1', 'Content-Transfer-Encoding: 7bit'], html);
    const out = appendVermerk(msg, NOTE);
    assert.equal(
      latin1(bodyOf(out)),
      '<html><body><p>Gr&uuml;&szlig;e</p><!-- </body> -->\r\n<hr>\r\n<p>Die Nachricht wurde entschl&#252;sselt.<br>\r\nDie Signatur wurde erfolgreich gepr&#252;ft.</p>\r\n</BODY></html>\r\n',
    );
    assert.equal(field(out, 'Content-Transfer-Encoding'), '7bit', 'ASCII only: 7bit stays right');
    const parsed = await parse(out);
    assert.ok(decodeNcr(String(parsed.html)).includes(`${DECRYPTED}<br>`));
    assert.ok(parsed.text!.includes(DECRYPTED));
  });

  test(`${IDS}: text/html without </body>: appended; quoted-printable and base64 HTML`, async () => {
    const plainHtml = message([...HEAD, 'Content-Type: text/html'], '<p>Hallo</p>');
    const out = appendVermerk(plainHtml, NOTE);
    assert.equal(latin1(bodyOf(out)), '<p>Hallo</p>\r\n<hr>\r\n<p>Die Nachricht wurde entschl&#252;sselt.<br>\r\nDie Signatur wurde erfolgreich gepr&#252;ft.</p>');
    assert.equal(field(out, 'Content-Type'), 'text/html', 'no charset needed for ASCII');
    assert.ok(decodeNcr(String((await parse(out)).html)).includes(DECRYPTED));

    const qp = message([...HEAD, 'Content-Type: text/html; charset=utf-8', 'Content-Transfer-Encoding: quoted-printable'], '<html><body><p style=3D"x">Gr=C3=BC=C3=9Fe</p></body></html>\r\n');
    const qpOut = appendVermerk(qp, NOTE);
    assert.ok(qpDecode(latin1(bodyOf(qpOut))).toString('utf8').includes('Grüße</p>\r\n<hr>\r\n<p>Die Nachricht wurde entschl&#252;sselt.<br>'));
    assert.ok(decodeNcr(String((await parse(qpOut)).html)).includes(`<p style="x">Grüße</p>`));
    assert.ok(decodeNcr(String((await parse(qpOut)).html)).includes(DECRYPTED));

    const b64 = message([...HEAD, 'Content-Type: text/html; charset=utf-8', 'Content-Transfer-Encoding: base64'], mime.encodeBase64Lines(Buffer.from('<html><body>Grüße</body></html>', 'utf8')));
    const b64Out = appendVermerk(b64, NOTE);
    assert.equal(
      mime.decodeBase64Body(bodyOf(b64Out))!.toString('utf8'),
      '<html><body>Grüße\r\n<hr>\r\n<p>Die Nachricht wurde entschl&#252;sselt.<br>\r\nDie Signatur wurde erfolgreich gepr&#252;ft.</p>\r\n</body></html>',
    );
    assert.ok(decodeNcr(String((await parse(b64Out)).html)).includes(DECRYPTED));
  });

  test(`${IDS}: HTML special characters in a note line are escaped`, async () => {
    const out = appendVermerk(message([...HEAD, 'Content-Type: text/html'], '<p>x</p>\r\n'), ['a <b> & "c"']);
    assert.ok(latin1(out).includes('<p>a &lt;b&gt; &amp; &quot;c&quot;</p>'));
  });

  test(`${IDS}: empty body, and a message without body at all`, async () => {
    const empty = message([...HEAD, 'Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: 8bit'], '');
    const out = appendVermerk(empty, NOTE);
    assert.equal(latin1(bodyOf(out)), utf8(`${SEP}\r\n${DECRYPTED}\r\n${VERIFIED}\r\n`));
    assert.ok((await parse(out)).text!.includes(DECRYPTED));

    for (const raw of ['From: a@b.de\r\nSubject: x\r\n', 'From: a@b.de\r\nSubject: x']) {
      const none = appendVermerk(Buffer.from(raw, 'latin1'), NOTE);
      assert.ok(latin1(none).startsWith('From: a@b.de\r\nSubject: x\r\n'), JSON.stringify(raw));
      assert.ok((await parse(none)).text!.includes(DECRYPTED), JSON.stringify(raw));
    }
  });

  test(`${IDS}: bare-LF input gets bare-LF additions`, async () => {
    const msg = Buffer.from('From: a@b.de\nContent-Type: text/plain\n\nHallo\n', 'latin1');
    const out = appendVermerk(msg, NOTE);
    assert.ok(!out.includes(0x0d), 'no CR anywhere');
    assert.equal(latin1(out), `From: a@b.de\nContent-Type: text/plain; charset=utf-8\nMIME-Version: 1.0\nContent-Transfer-Encoding: 8bit\n\nHallo\n${utf8(`${SEP}\n${DECRYPTED}\n${VERIFIED}\n`)}`);
    assert.ok((await parse(out)).text!.includes(DECRYPTED));

    const mixed = Buffer.from(latin1(gematikExample()).replace(/\r\n/g, '\n'), 'latin1');
    const mixedOut = appendVermerk(mixed, NOTE);
    assert.ok(!mixedOut.includes(0x0d));
    assert.ok((await parse(mixedOut)).text!.includes(`${DECRYPTED}\n${VERIFIED}`));
  });

  test(`${IDS}: a text/plain attachment is not the text: the message is wrapped`, async () => {
    const msg = message([...HEAD, 'Content-Type: text/plain', 'Content-Disposition: attachment; filename=a.txt'], 'data\r\n');
    const out = appendVermerk(msg, NOTE);
    assert.match(field(out, 'Content-Type')!, /^multipart\/mixed/);
    const parsed = await parse(out);
    assert.ok(parsed.text!.includes(DECRYPTED));
    assert.equal(parsed.attachments.length, 1);
    assert.equal(parsed.attachments[0]!.content.toString('latin1'), 'data\r\n', 'the body as it was');
  });

  test(`${IDS}: no note lines, or an unreadable header: the input unchanged`, () => {
    const msg = message([...HEAD, 'Content-Type: text/plain'], 'x\r\n');
    assert.deepEqual(appendVermerk(msg, []), msg);
    const broken = Buffer.from('this is not a header\r\n\r\nbody\r\n', 'latin1');
    assert.deepEqual(appendVermerk(broken, NOTE), broken);
  });

  test(`${IDS}: note lines longer than a line may be are cut, no output line passes 998 octets`, () => {
    const long = ['x'.repeat(3000), ('wort ' + 'ü'.repeat(7)).repeat(200), '€'.repeat(900)];
    for (const type of ['text/plain; charset=utf-8', 'text/html; charset=utf-8', 'text/plain; charset=iso-8859-1']) {
      const out = appendVermerk(message([...HEAD, `Content-Type: ${type}`, 'Content-Transfer-Encoding: 8bit'], 'x\r\n'), long);
      assertLineLengths(out);
    }
    assertLineLengths(appendVermerk(message([...HEAD, 'Content-Type: application/pdf'], 'x\r\n'), long));
  });
});

/** gematik's example: multipart/mixed, a text/plain ISO-8859-1 part and the letter as PDF. */
function gematikExample(): Buffer {
  return message(
    [...HEAD, 'Content-Type: multipart/mixed;', ' boundary="unique-boundary-1"', 'X-KIM-Dienstkennung: Arztbrief;VHitG-Versand;V1.2'],
    [
      'This is a multi-part message in MIME format.',
      '--unique-boundary-1',
      'Content-Type: text/plain; charset="iso-8859-1"',
      'Content-Transfer-Encoding: 8bit',
      '',
      'Sehr Geehrte Frau Dr. Musterfrau,',
      'hiermit sende ich Ihnen den Arztbrief f\xfcr Herrn H. Muster.',
      'Mit Freundlichen Gr\xfc\xdfen',
      'Dr. med. Mustermann',
      'Arzt f\xfcr Allgemeinmedizin',
      '--unique-boundary-1',
      'Content-Type: application/pdf;',
      ' name="Arztbrief_Muster.pdf"',
      'Content-Transfer-Encoding: base64',
      'Content-Disposition: attachment;',
      ' filename="Arztbrief_Muster.pdf"',
      'Content-Description: eAB-PDF-signed',
      '',
      PDF_B64 + '--unique-boundary-1--',
      '',
    ].join('\r\n'),
  );
}

/** Asserts `out` is `msg` with bytes inserted at offset `at` and nothing else changed; returns what was inserted. */
function insertedAt(msg: Buffer, out: Buffer, at: number): string {
  assert.ok(at >= 0 && out.length > msg.length);
  const added = out.length - msg.length;
  assert.deepEqual(out.subarray(0, at), msg.subarray(0, at), 'every byte before the insertion kept');
  assert.deepEqual(out.subarray(at + added), msg.subarray(at), 'every byte after the insertion kept');
  return latin1(out.subarray(at, at + added));
}

describe(`${IDS}: the note in a multipart message`, () => {
  test(`${IDS}: multipart/mixed text + PDF (gematik's example): the note at the end of the text part, the PDF part byte-identical`, async () => {
    const msg = gematikExample();
    const out = appendVermerk(msg, NOTE);
    const at = latin1(msg).indexOf('\r\n--unique-boundary-1\r\nContent-Type: application/pdf');
    assert.equal(insertedAt(msg, out, at), `\r\n${SEP}\r\nDie Nachricht wurde entschl\xfcsselt.\r\nDie Signatur wurde erfolgreich gepr\xfcft.`, 'right before the delimiter of the PDF part, shaped like the example');
    const before = partsOf(msg, 'unique-boundary-1');
    const after = partsOf(out, 'unique-boundary-1');
    assert.deepEqual(after[1], before[1], 'the PDF part, header and body, byte for byte');
    const parsed = await parse(out);
    assert.ok(parsed.text!.includes(`Arzt für Allgemeinmedizin\n${SEP}\n${DECRYPTED}\n${VERIFIED}`));
    assert.deepEqual(parsed.attachments[0]!.content, PDF);
  });

  test(`${IDS}: multipart/alternative: the text/plain and the text/html alternative both get it`, async () => {
    const msg = message(
      [...HEAD, 'Content-Type: multipart/alternative; boundary=alt'],
      '--alt\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nHallo\r\n' +
        '--alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body>Hallo</body></html>\r\n--alt--\r\n',
    );
    const out = appendVermerk(msg, NOTE);
    const [plain, html] = partsOf(out, 'alt');
    assert.ok(latin1(plain!).endsWith(utf8(`Hallo\r\n${SEP}\r\n${DECRYPTED}\r\n${VERIFIED}`)));
    assert.ok(latin1(html!).includes('<hr>'));
    const parsed = await parse(out);
    assert.ok(parsed.text!.includes(DECRYPTED));
    assert.ok(decodeNcr(String(parsed.html)).includes(DECRYPTED));
  });

  test(`${IDS}: multipart/mixed holding multipart/alternative and a PDF: both alternatives noted, the PDF untouched`, async () => {
    const pdfPart = `Content-Type: application/pdf; name=a.pdf\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=a.pdf\r\n\r\n${PDF_B64}`;
    const msg = message(
      [...HEAD, 'Content-Type: multipart/mixed; boundary=mix'],
      '--mix\r\nContent-Type: multipart/alternative; boundary=alt\r\n\r\n' +
        '--alt\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nGr=FC=DFe\r\n' +
        '--alt\r\nContent-Type: text/html; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n<p>Gr=FC=DFe</p>\r\n--alt--\r\n' +
        `--mix\r\n${pdfPart}--mix--\r\n`,
    );
    const out = appendVermerk(msg, NOTE);
    assert.equal(latin1(partsOf(out, 'mix')[1]!), latin1(partsOf(msg, 'mix')[1]!));
    assert.ok(latin1(out).endsWith(`\r\n--mix\r\n${pdfPart}--mix--\r\n`));
    const parsed = await parse(out);
    assert.ok(parsed.text!.includes(`Grüße\n${SEP}\n${DECRYPTED}\n${VERIFIED}`));
    assert.ok(decodeNcr(String(parsed.html)).includes(`Grüße</p>`));
    assert.ok(decodeNcr(String(parsed.html)).includes(DECRYPTED));
    assert.deepEqual(parsed.attachments[0]!.content, PDF);
  });

  test(`${IDS}: the first text part gets it, not an attachment nor a later text`, async () => {
    const msg = message(
      [...HEAD, 'Content-Type: multipart/mixed; boundary=mix'],
      '--mix\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=a.txt\r\n\r\nanhang\r\n' +
        '--mix\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nerster\r\n' +
        '--mix\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nzweiter\r\n--mix--\r\n',
    );
    const parts = partsOf(appendVermerk(msg, NOTE), 'mix').map(latin1);
    assert.equal(parts[0], 'Content-Type: text/plain\r\nContent-Disposition: attachment; filename=a.txt\r\n\r\nanhang');
    assert.ok(parts[1]!.includes(SEP));
    assert.ok(!parts[2]!.includes(SEP));
  });

  test(`${IDS}: only a PDF part: a new first text/plain part, every original byte kept`, async () => {
    const msg = message([...HEAD, 'Content-Type: multipart/mixed; boundary="b1"'], `preamble\r\n--b1\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n${PDF_B64}--b1--\r\nepilogue\r\n`);
    const out = appendVermerk(msg, NOTE);
    assert.equal(insertedAt(msg, out, latin1(msg).indexOf('--b1\r\n')), `--b1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n${utf8(`${SEP}\r\n${DECRYPTED}\r\n${VERIFIED}`)}\r\n`);
    const parsed = await parse(out);
    assert.ok(parsed.text!.includes(DECRYPTED));
    assert.deepEqual(parsed.attachments[0]!.content, PDF);
  });

  test(`${IDS}: text nested beyond the depth limit counts as not found: a new first part at the top`, async () => {
    let entity = 'Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\ntief unten\r\n';
    for (let level = 3; level >= 1; level--) entity = `Content-Type: multipart/mixed; boundary=l${level}\r\n\r\n--l${level}\r\n${entity}--l${level}--\r\n`;
    const msg = Buffer.from(HEAD.map((l) => l + '\r\n').join('') + entity, 'latin1');
    const deep = appendVermerk(msg, NOTE, { maxDepth: 2 });
    assert.ok(insertedAt(msg, deep, latin1(msg).indexOf('--l1\r\n')).startsWith('--l1\r\nContent-Type: text/plain; charset=utf-8\r\n'));
    const within = appendVermerk(msg, NOTE, { maxDepth: 3 });
    assert.equal(insertedAt(msg, within, latin1(msg).indexOf('tief unten\r\n') + 'tief unten\r\n'.length), utf8(`${SEP}\r\n${DECRYPTED}\r\n${VERIFIED}\r\n`), 'with 3 levels allowed the deep text gets it');
    assert.ok((await parse(deep)).text!.includes(DECRYPTED));
  });

  test(`${IDS}: multipart/signed is left alone: in mixed a new first part, at the top wrapped, its bytes identical`, async () => {
    const signed = 'Content-Type: multipart/signed; protocol="application/pkcs7-signature"; boundary=sig\r\n\r\n--sig\r\nContent-Type: text/plain\r\n\r\nsigniert\r\n--sig\r\nContent-Type: application/pkcs7-signature\r\n\r\nAAAA\r\n--sig--\r\n';
    const inMixed = message([...HEAD, 'Content-Type: multipart/mixed; boundary=mix'], `--mix\r\n${signed}--mix--\r\n`);
    const out = appendVermerk(inMixed, NOTE);
    assert.ok(insertedAt(inMixed, out, latin1(inMixed).indexOf('--mix\r\n')).startsWith('--mix\r\nContent-Type: text/plain; charset=utf-8'));

    const top = Buffer.from(HEAD.map((l) => l + '\r\n').join('') + signed, 'latin1');
    const wrapped = appendVermerk(top, NOTE);
    const boundary = mime.parseContentType(field(wrapped, 'Content-Type')).params['boundary']!;
    assert.equal(latin1(partsOf(wrapped, boundary)[1]!), signed, 'the signed entity byte for byte');
    assert.ok((await parse(wrapped)).text!.includes(DECRYPTED));
  });

  test(`${IDS}: a whole-message application/pdf is wrapped: note first, the PDF entity unchanged second`, async () => {
    const msg = message(['Date: Fri, 9 Feb 2012 12:07:17 +0100', 'From: a@b.de', 'Content-Type: application/pdf; name=a.pdf', 'Subject: Brief', 'Content-Transfer-Encoding: base64'], PDF_B64);
    const out = appendVermerk(msg, NOTE);
    const fields = headerOf(out).fields;
    assert.deepEqual(fields.map((f) => f.name), ['Date', 'From', 'MIME-Version', 'Content-Type', 'Subject']);
    const boundary = mime.parseContentType(field(out, 'Content-Type')).params['boundary']!;
    assert.match(boundary, /^=_postamt_vermerk_[0-9a-f]{24}$/);
    assert.ok(!msg.includes(boundary));
    const parts = partsOf(out, boundary).map(latin1);
    assert.equal(parts.length, 2);
    assert.equal(parts[1], `Content-Type: application/pdf; name=a.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n${PDF_B64}`);
    const parsed = await parse(out);
    assert.ok(parsed.text!.includes(`${DECRYPTED}\n${VERIFIED}`));
    assert.deepEqual(parsed.attachments[0]!.content, PDF);
  });

  test(`${IDS}: malformed: no close delimiter → a new first part before the first delimiter`, async () => {
    const msg = message([...HEAD, 'Content-Type: multipart/mixed; boundary=b1'], '--b1\r\nContent-Type: text/plain\r\n\r\nabgeschnitten');
    const out = appendVermerk(msg, NOTE);
    assert.ok(insertedAt(msg, out, headerOf(msg).bodyStart).startsWith('--b1\r\nContent-Type: text/plain; charset=utf-8\r\n'));
    assert.ok((await parse(out)).text!.includes(DECRYPTED));
  });

  test(`${IDS}: malformed: multipart without boundary parameter → wrapped, the original entity kept`, async () => {
    const msg = message([...HEAD, 'Content-Type: multipart/mixed'], 'irgendwas\r\n');
    const out = appendVermerk(msg, NOTE);
    assert.match(field(out, 'Content-Type')!, /^multipart\/mixed; boundary="=_postamt_vermerk_/);
    const boundary = mime.parseContentType(field(out, 'Content-Type')).params['boundary']!;
    assert.equal(latin1(partsOf(out, boundary)[1]!), 'Content-Type: multipart/mixed\r\n\r\nirgendwas\r\n');
    assert.ok((await parse(out)).text!.includes(DECRYPTED));
  });

  test(`${IDS}: malformed: a part with an unreadable header is skipped, the next text part gets the note`, async () => {
    const msg = message(
      [...HEAD, 'Content-Type: multipart/mixed; boundary=b1'],
      '--b1\r\nkein header\r\n\r\nx\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHallo\r\n--b1--\r\n',
    );
    const parts = partsOf(appendVermerk(msg, NOTE), 'b1').map(latin1);
    assert.equal(parts[0], 'kein header\r\n\r\nx');
    assert.ok(parts[1]!.endsWith(utf8(`Hallo\r\n${SEP}\r\n${DECRYPTED}\r\n${VERIFIED}`)));
  });

  test(`${IDS}: fuzz: truncations and byte flips of a multipart message never throw, the result always parses`, async () => {
    const seed = Number(process.env.VERMERK_FUZZ_SEED ?? 0x7e4e4);
    const rounds = Number(process.env.VERMERK_FUZZ_ROUNDS ?? 2000);
    const rnd = prng(seed);
    const int = (n: number): number => Math.floor(rnd() * n);
    const base = Buffer.concat([
      gematikExample().subarray(0, -'--unique-boundary-1--\r\n'.length),
      Buffer.from(
        '--unique-boundary-1\r\nContent-Type: multipart/alternative; boundary=alt\r\n\r\n' +
          '--alt\r\nContent-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nHallo=\r\n' +
          '--alt\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\nPGh0bWw+PGJvZHk+SGFsbG88L2JvZHk+PC9odG1sPg==\r\n--alt--\r\n--unique-boundary-1--\r\n',
        'latin1',
      ),
    ]);
    const interesting = [0x00, 0x0a, 0x0d, 0x20, 0x2d, 0x3a, 0x3d, 0x22, 0x3b, 0x80, 0xff];
    for (let i = 0; i < rounds; i++) {
      let data = Buffer.from(base);
      for (let r = 1 + int(3); r > 0; r--) {
        const at = int(data.length);
        const kind = int(4);
        if (kind === 0) data = data.subarray(0, at);
        else if (kind === 1) data[at] = (data[at] ?? 0) ^ (1 << int(8));
        else if (kind === 2) data[at] = interesting[int(interesting.length)]!;
        else data = Buffer.concat([data.subarray(0, at), data.subarray(Math.min(data.length, at + 1 + int(40)))]);
      }
      let out: Buffer;
      try {
        out = appendVermerk(data, NOTE, { maxDepth: 1 + int(8) });
      } catch (err) {
        assert.fail(`seed ${seed} round ${i}: threw ${String(err)}`);
      }
      assertLineLengths(out);
      await simpleParser(out); // rejects if it cannot parse
    }
  });
});
