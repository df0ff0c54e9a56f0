import { createRequire } from 'node:module';
import type * as Sax from 'sax';

// sax comes with node-soap (which parses the Konnektor's answers with it); required, not
// imported, since it is CommonJS without an ES entry.
const sax = createRequire(import.meta.url)('sax') as typeof Sax;

/** An element of a parsed document: namespace and local name, attributes by local name, text, children. */
export interface XmlElement {
  readonly ns: string;
  readonly name: string;
  readonly attrs: Readonly<Record<string, string>>;
  readonly children: XmlElement[];
  text: string;
}

export class XmlError extends Error {
  override readonly name = 'XmlError';
}

/**
 * Parses a whole document into elements (namespace-aware, strict). A DOCTYPE is refused: the
 * Konnektor never sends one, and it is how entity expansion attacks start.
 */
export function parseXml(xml: string): XmlElement {
  const p = sax.parser(true, { xmlns: true });
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  let failure: Error | undefined;
  p.onerror = (err) => {
    failure ??= err;
  };
  p.ondoctype = () => {
    failure ??= new XmlError('a DOCTYPE is not accepted');
  };
  p.onopentag = (tag) => {
    const attrs: Record<string, string> = {};
    for (const a of Object.values(tag.attributes)) if (a.uri !== 'http://www.w3.org/2000/xmlns/') attrs[a.local] = a.value;
    const el: XmlElement = { ns: tag.uri, name: tag.local, attrs, children: [], text: '' };
    const parent = stack[stack.length - 1];
    if (parent) parent.children.push(el);
    else root ??= el;
    stack.push(el);
  };
  p.onclosetag = () => {
    stack.pop();
  };
  p.ontext = p.oncdata = (t) => {
    const top = stack[stack.length - 1];
    if (top) top.text += t;
  };
  try {
    p.write(xml).close();
  } catch (err) {
    failure ??= err as Error;
  }
  if (failure) throw new XmlError(`not well-formed XML: ${failure.message.split('\n')[0]}`);
  if (!root) throw new XmlError('no root element');
  return root;
}

/** The first child with that local name (any namespace: the Konnektor's prefixes and versions vary). */
export function child(el: XmlElement | undefined, name: string): XmlElement | undefined {
  return el?.children.find((c) => c.name === name);
}

export function children(el: XmlElement | undefined, name: string): XmlElement[] {
  return el ? el.children.filter((c) => c.name === name) : [];
}

/** Follows a path of local names; undefined when a step is missing. */
export function path(el: XmlElement | undefined, ...names: string[]): XmlElement | undefined {
  let cur = el;
  for (const n of names) cur = child(cur, n);
  return cur;
}

/** The first descendant (depth first) with that local name. */
export function find(el: XmlElement | undefined, name: string): XmlElement | undefined {
  if (!el) return undefined;
  for (const c of el.children) {
    if (c.name === name) return c;
    const deeper = find(c, name);
    if (deeper) return deeper;
  }
  return undefined;
}


/** base64 of bytes as XML's base64Binary; whitespace in incoming base64 is dropped before decoding. */
export function b64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

export function unb64(text: string, what: string): Uint8Array {
  const t = text.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(t) || t.length % 4 !== 0) throw new XmlError(`${what} is not base64`);
  return new Uint8Array(Buffer.from(t, 'base64'));
}
