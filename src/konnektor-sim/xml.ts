import { KONNEKTOR_NS, escapeXml, type KonnektorPrefix } from '../wire/konnektor/index.js';

/**
 * The few XML pieces the simulator writes itself. node-soap serialises a response object with
 * every element in the operation's own namespace, while gematik's responses mix namespaces
 * (CONN:Status, CARD:Card, dss:SignatureObject …); its answers would not validate. So the
 * handlers give node-soap the response element's content as raw XML (`$xml`), built here,
 * each top-level element declaring the prefixes it uses.
 */

export const NS = KONNEKTOR_NS;
export type Prefix = KonnektorPrefix;
export { escapeXml };

/** `<name attrs>content</name>`; content strings are XML already (use `text()` for data). */
export function el(name: `${Prefix}:${string}`, content: string | readonly string[] = '', attrs: Record<string, string> = {}): string {
  const a = Object.entries(attrs)
    .map(([k, v]) => ` ${k}="${escapeXml(v)}"`)
    .join('');
  const inner = typeof content === 'string' ? content : content.join('');
  return inner === '' ? `<${name}${a}/>` : `<${name}${a}>${inner}</${name}>`;
}

export const text = (name: `${Prefix}:${string}`, value: string | number | boolean, attrs: Record<string, string> = {}): string => el(name, escapeXml(String(value)), attrs);

/** A top-level element with xmlns declarations for every prefix used inside it. */
export function declared(element: string): string {
  const used = new Set<string>();
  for (const m of element.matchAll(/<\/?([A-Za-z][\w-]*):/g)) used.add(m[1]!);
  const decls = [...used]
    .filter((p): p is Prefix => p in NS)
    .map((p) => ` xmlns:${p}="${NS[p]}"`)
    .join('');
  return element.replace(/^<([\w-]+:[\w.-]+)/, `<$1${decls}`);
}

/** The `$xml` content of a response element: its children, each self-contained. */
export const content = (...elements: string[]): { $xml: string } => ({ $xml: elements.map(declared).join('') });

/** CONN:Status with Result OK. */
export const statusOk = (): string => el('CONN:Status', text('CONN:Result', 'OK'));

/** The text of a parsed request value: node-soap gives plain strings, or `{ $value, attributes }` where the element has attributes. */
export function textOf(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (typeof v === 'object' && '$value' in v) return textOf((v as { $value: unknown }).$value);
  return undefined;
}

/** A maxOccurs>1 element as an array (node-soap gives one occurrence as a plain value). */
export const listOf = (v: unknown): unknown[] => (v === undefined || v === null ? [] : Array.isArray(v) ? v : [v]);
