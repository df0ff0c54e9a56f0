/**
 * The Praxis-Postfach's one way to its back end: the JSON API under /praxis/api (docs/praxis.md)
 * with the session cookie (HttpOnly, so never seen here) and the CSRF token on every change.
 */
const BASE = '/praxis/api';
let csrf = '';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly body?: unknown,
  ) {
    super(message);
  }
}

let signedOut: () => void = () => {};
/** Called when the server answers 401: the session ended (idle, restart, refused password). */
export function whenSignedOut(f: () => void): void {
  signedOut = f;
}

async function parse(r: Response): Promise<unknown> {
  if (r.status === 204) return undefined;
  const text = await r.text();
  let body: unknown;
  try {
    body = text ? (JSON.parse(text) as unknown) : undefined;
  } catch {
    throw new ApiError(r.status, `HTTP ${r.status}`);
  }
  if (!r.ok) throw new ApiError(r.status, (body as { title?: string } | undefined)?.title ?? `HTTP ${r.status}`, body);
  return body;
}

async function send(method: string, path: string, body?: BodyInit, type?: string): Promise<unknown> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (type) headers['content-type'] = type;
  if (method !== 'GET') headers['x-csrf-token'] = csrf;
  const r = await fetch(BASE + path, { method, headers, credentials: 'same-origin', body: body ?? null });
  if (r.status === 401 && path !== '/login') {
    csrf = '';
    signedOut();
  }
  return parse(r);
}

export interface SessionInfo {
  user: string;
  csrfToken: string;
}

export async function session(): Promise<SessionInfo | undefined> {
  const r = await fetch(`${BASE}/session`, { credentials: 'same-origin', headers: { accept: 'application/json' } });
  if (!r.ok) return undefined;
  const s = (await r.json()) as SessionInfo;
  csrf = s.csrfToken;
  return s;
}

export async function login(user: string, password: string): Promise<SessionInfo> {
  const s = (await send('POST', '/login', JSON.stringify({ user, password }), 'application/json')) as SessionInfo;
  csrf = s.csrfToken;
  return s;
}

export async function logout(): Promise<void> {
  try {
    await send('POST', '/logout');
  } finally {
    csrf = '';
  }
}

export interface DirectoryEntry {
  displayName: string;
  mail: string[];
  telematikId: string;
  place: string;
  professionOID: string[];
  specialization: string[];
  kimVersions: string[];
}
export type DirectoryQuery = Partial<Record<'q' | 'name' | 'place' | 'profession' | 'telematikId', string>>;

export async function searchDirectory(query: DirectoryQuery): Promise<{ entries: DirectoryEntry[]; truncated: boolean }> {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v && v.trim()) params.set(k, v.trim());
  return (await send('GET', `/directory?${params.toString()}`)) as { entries: DirectoryEntry[]; truncated: boolean };
}

export interface KimResult {
  status: 'ok' | 'warning' | 'error';
  text_de: string;
  text_en: string;
  decryption: string[];
  integrity: string[];
  fehlermeldung: string[];
  failureMessage: boolean;
}
export interface MessageSummary {
  uid: string;
  size: number;
  from: string;
  subject: string;
  date: string | null;
  dienstkennung: string | null;
  kim: KimResult;
}
export interface OpenedMessage extends MessageSummary {
  to: string[];
  cc: string[];
  messageId: string | null;
  text: string;
  attachments: Array<{ n: number; filename: string; contentType: string; size: number }>;
}
export interface InboxPage {
  total: number;
  page: number;
  pageSize: number;
  messages: MessageSummary[];
}

export const listInbox = async (page: number): Promise<InboxPage> => (await send('GET', `/messages?page=${page}`)) as InboxPage;
export const openMessage = async (uid: string): Promise<OpenedMessage> => (await send('GET', `/messages/${encodeURIComponent(uid)}`)) as OpenedMessage;
export const deleteMessage = async (uid: string): Promise<void> => void (await send('DELETE', `/messages/${encodeURIComponent(uid)}`));
/** A plain link downloads it: a GET with the cookie, answered as an attachment with a sandbox CSP. */
export const attachmentUrl = (uid: string, n: number): string => `${BASE}/messages/${encodeURIComponent(uid)}/attachments/${n}`;

export interface RecipientOutcome {
  address: string;
  accepted: boolean;
  code: number;
  text: string;
  kimCode?: string;
}
export interface SendOutcome {
  ok: boolean;
  messageId: string | null;
  recipients: RecipientOutcome[];
  reply: { code: number; text: string };
}

export interface OutgoingDraft {
  to: string[];
  cc: string[];
  subject: string;
  text: string;
  dienstkennung: string;
  files: File[];
}

/** Sends as multipart/form-data (files as they are, no base64); 422 still carries the per-recipient answer. */
export async function sendMessage(d: OutgoingDraft): Promise<SendOutcome> {
  const form = new FormData();
  for (const a of d.to) form.append('to', a);
  for (const a of d.cc) form.append('cc', a);
  form.append('subject', d.subject);
  form.append('text', d.text);
  if (d.dienstkennung) form.append('dienstkennung', d.dienstkennung);
  for (const f of d.files) form.append('attachments', f, f.name);
  try {
    return (await send('POST', '/messages', form)) as SendOutcome;
  } catch (err) {
    if (err instanceof ApiError && err.status === 422 && (err.body as SendOutcome | undefined)?.recipients) return err.body as SendOutcome;
    throw err;
  }
}
