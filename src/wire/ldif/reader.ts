/**
 * A streaming LDIF (RFC 2849) reader. Push bytes in with `push`, take complete records out;
 * `end` flushes the last one. Pure: no I/O, so it is fuzzed on bytes alone. Content records
 * and `changetype: add` records are yielded; anything this reader will not apply (URL values,
 * modify/delete/modrdn, controls) is yielded as an error record carrying the line number of
 * its first line and a reason, and reading goes on with the next record.
 */
export interface LdifAttributeValue {
  /** The attribute description as written, options included (e.g. `userCertificate;binary`). */
  name: string;
  value: Buffer;
}

export type LdifRecord =
  | { kind: 'entry'; line: number; dn: string; attributes: LdifAttributeValue[] }
  | { kind: 'error'; line: number; dn?: string; reason: string };

export interface LdifReaderOptions {
  /** Longest logical (unfolded) line in bytes; a longer one is rejected (memory bound). */
  maxLineBytes?: number;
  /** Most attribute values in one record. */
  maxValuesPerRecord?: number;
}

const ATTR_DESC = /^[A-Za-z0-9][A-Za-z0-9-]*(?:\.[0-9]+)*(?:;[A-Za-z0-9-]+)*$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export class LdifReader {
  private pending: Buffer = Buffer.alloc(0);
  /** Physical line number of the next line to be read (1-based). */
  private lineNo = 1;
  /** The logical line being assembled from folded physical lines. */
  private logical: Buffer[] | null = null;
  private logicalLen = 0;
  private logicalLine = 0;
  private logicalIsComment = false;
  private recordLines: Array<{ line: number; text: Buffer }> = [];
  private recordTooLong = false;
  /** First line of the record that held an over-long line (for the error report). */
  private tooLongLine = 0;
  private sawFirstRecord = false;
  /** The rest of an over-long physical line is being skipped. */
  private discarding = false;
  private readonly maxLine: number;
  private readonly maxValues: number;

  constructor(opts: LdifReaderOptions = {}) {
    this.maxLine = opts.maxLineBytes ?? 1024 * 1024;
    this.maxValues = opts.maxValuesPerRecord ?? 10_000;
  }

  /** Feeds bytes; returns the records completed by them. */
  push(chunk: Buffer): LdifRecord[] {
    const out: LdifRecord[] = [];
    let data = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    let start = 0;
    for (;;) {
      const nl = data.indexOf(0x0a, start);
      if (nl < 0) break;
      let end = nl;
      if (end > start && data[end - 1] === 0x0d) end--;
      if (this.discarding) {
        this.discarding = false;
        this.lineNo++;
      } else this.physicalLine(data.subarray(start, end), out);
      start = nl + 1;
    }
    data = data.subarray(start);
    if (data.length > this.maxLine + 2) {
      // A single physical line that never ends: keep counting, drop the bytes.
      // The line is counted once, when its newline arrives.
      if (!this.discarding) this.finishLogical();
      this.markTooLong(this.lineNo);
      this.discarding = true;
      data = Buffer.alloc(0);
    }
    this.pending = Buffer.from(data);
    return out;
  }

  /** Signals the end of input; returns the last record if any. */
  end(): LdifRecord[] {
    const out: LdifRecord[] = [];
    if (this.discarding) this.discarding = false;
    else if (this.pending.length) {
      let last = this.pending;
      if (last[last.length - 1] === 0x0d) last = last.subarray(0, last.length - 1);
      this.physicalLine(last, out);
      this.pending = Buffer.alloc(0);
    }
    this.finishLogical();
    this.finishRecord(out);
    return out;
  }

  private physicalLine(line: Buffer, out: LdifRecord[]): void {
    const no = this.lineNo++;
    if (line.length > 0 && line[0] === 0x20) {
      // Continuation of the previous logical line (RFC 2849 folding).
      if (this.logical) {
        this.logicalLen += line.length - 1;
        if (this.logicalLen > this.maxLine) this.markTooLong(no);
        else if (!this.logicalIsComment) this.logical.push(line.subarray(1));
        return;
      }
      if (this.recordLines.length === 0 && !this.recordTooLong) {
        out.push({ kind: 'error', line: no, reason: 'continuation line without a line to continue' });
      }
      return;
    }
    this.finishLogical();
    if (line.length === 0) {
      this.finishRecord(out);
      return;
    }
    this.logical = [Buffer.from(line)];
    this.logicalLen = line.length;
    this.logicalLine = no;
    this.logicalIsComment = line[0] === 0x23; // '#'
    if (this.logicalLen > this.maxLine) this.markTooLong(no);
  }

  private markTooLong(line: number): void {
    if (!this.recordTooLong) this.tooLongLine = this.recordLines[0]?.line ?? (this.logical ? this.logicalLine : line);
    this.recordTooLong = true;
  }

  private finishLogical(): void {
    if (!this.logical) return;
    if (!this.logicalIsComment) this.recordLines.push({ line: this.logicalLine, text: Buffer.concat(this.logical) });
    this.logical = null;
  }

  private finishRecord(out: LdifRecord[]): void {
    const lines = this.recordLines;
    const tooLong = this.recordTooLong;
    this.recordLines = [];
    this.recordTooLong = false;
    if (tooLong) {
      out.push({ kind: 'error', line: this.tooLongLine, reason: `a line is longer than ${this.maxLine} bytes` });
      return;
    }
    if (lines.length === 0) return;
    const first = lines[0]!;
    // An optional `version: 1` may stand alone or precede the first record.
    if (!this.sawFirstRecord && /^version:/i.test(first.text.toString('latin1'))) {
      this.sawFirstRecord = true;
      const v = first.text.toString('latin1').slice(8).trim();
      if (v !== '1') {
        out.push({ kind: 'error', line: first.line, reason: `unsupported LDIF version "${v}"` });
        return;
      }
      lines.shift();
      if (lines.length === 0) return;
    }
    this.sawFirstRecord = true;
    out.push(this.parseRecord(lines));
  }

  private parseRecord(lines: Array<{ line: number; text: Buffer }>): LdifRecord {
    const line = lines[0]!.line;
    const parsed: Array<{ name: string; value: Buffer; line: number }> = [];
    for (const l of lines) {
      const r = parseLine(l.text);
      if ('error' in r) return { kind: 'error', line: l.line, reason: r.error };
      parsed.push({ ...r, line: l.line });
    }
    const dnLine = parsed[0]!;
    if (dnLine.name.toLowerCase() !== 'dn') return { kind: 'error', line, reason: 'a record must start with "dn:"' };
    const dn = dnLine.value.toString('utf8');
    if (!Buffer.from(dn, 'utf8').equals(dnLine.value)) return { kind: 'error', line, reason: 'the DN is not valid UTF-8' };
    let rest = parsed.slice(1);
    if (rest[0]?.name.toLowerCase() === 'control') return { kind: 'error', line: rest[0].line, dn, reason: 'LDIF controls are not supported' };
    if (rest[0]?.name.toLowerCase() === 'changetype') {
      const ct = rest[0].value.toString('utf8').trim().toLowerCase();
      if (ct !== 'add') return { kind: 'error', line: rest[0].line, dn, reason: `changetype "${ct}" is not supported (only add and content records)` };
      rest = rest.slice(1);
    }
    if (rest.length === 0) return { kind: 'error', line, dn, reason: 'the record has no attributes' };
    if (rest.length > this.maxValues) return { kind: 'error', line, dn, reason: `more than ${this.maxValues} attribute values` };
    for (const a of rest) {
      const lower = a.name.toLowerCase();
      if (lower === 'dn' || lower === 'changetype' || lower === 'control') return { kind: 'error', line: a.line, dn, reason: `"${a.name}:" is out of place` };
    }
    return { kind: 'entry', line, dn, attributes: rest.map((a) => ({ name: a.name, value: a.value })) };
  }
}

function parseLine(text: Buffer): { name: string; value: Buffer } | { error: string } {
  const colon = text.indexOf(0x3a);
  if (colon <= 0) return { error: 'expected "name: value"' };
  const name = text.subarray(0, colon).toString('latin1');
  if (!ATTR_DESC.test(name)) return { error: `invalid attribute description "${name.slice(0, 64)}"` };
  const kind = text[colon + 1];
  if (kind === 0x3a) {
    // name:: base64
    const b64 = text.subarray(colon + 2).toString('latin1').trim();
    if (!BASE64.test(b64) || b64.length % 4 === 1) return { error: `invalid base64 value of "${name}"` };
    return { name, value: Buffer.from(b64, 'base64') };
  }
  if (kind === 0x3c) return { error: `URL values ("${name}:<") are not supported` };
  let v = text.subarray(colon + 1);
  let k = 0;
  while (k < v.length && v[k] === 0x20) k++;
  v = v.subarray(k);
  for (const b of v) if (b === 0 || b === 0x0d || b === 0x0a) return { error: `the value of "${name}" contains a control character; use base64 ("${name}::")` };
  return { name, value: Buffer.from(v) };
}

/** Reads LDIF records from a byte stream (a file stream, a request body). */
export async function* readLdif(source: AsyncIterable<Buffer | string>, opts?: LdifReaderOptions): AsyncGenerator<LdifRecord> {
  const reader = new LdifReader(opts);
  for await (const chunk of source) yield* reader.push(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk);
  yield* reader.end();
}
