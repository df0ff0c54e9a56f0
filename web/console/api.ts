/** The console's one way to the server: the admin API under /api with the session cookie and CSRF header. */
let csrf = '';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function parse(r: Response): Promise<unknown> {
  if (r.status === 204) return undefined;
  const text = await r.text();
  const body = text ? (JSON.parse(text) as unknown) : undefined;
  if (!r.ok) {
    const title = (body as { title?: string } | undefined)?.title ?? `HTTP ${r.status}`;
    throw new ApiError(r.status, title);
  }
  return body;
}

export async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD') headers['x-csrf-token'] = csrf;
  const r = await fetch(path, { method, headers, credentials: 'same-origin', body: body === undefined ? null : JSON.stringify(body) });
  if (r.status === 401) onSignedOut();
  return (await parse(r)) as T;
}

let signedOut: () => void = () => {};
function onSignedOut(): void {
  csrf = '';
  signedOut();
}
export function whenSignedOut(f: () => void): void {
  signedOut = f;
}

export async function session(): Promise<boolean> {
  const r = await fetch('/console/api/session', { credentials: 'same-origin' });
  if (!r.ok) return false;
  csrf = ((await r.json()) as { csrfToken: string }).csrfToken;
  return true;
}

export async function login(token: string): Promise<void> {
  const r = await fetch('/console/api/login', { method: 'POST', headers: { 'content-type': 'application/json' }, credentials: 'same-origin', body: JSON.stringify({ token }) });
  csrf = ((await parse(r)) as { csrfToken: string }).csrfToken;
}

export async function logout(): Promise<void> {
  await fetch('/console/api/logout', { method: 'POST', headers: { 'x-csrf-token': csrf }, credentials: 'same-origin' });
  csrf = '';
}

export interface Account {
  address: string;
  displayName: string;
  telematikId: string | null;
  quotaBytes: number;
  usedBytes: number;
  disabled: boolean;
  createdAt: string;
  /** The account's own dataTimeToLive (days) and maxMailSize (bytes); null: service.kim.defaults. */
  dataTimeToLive: number | null;
  maxMailSize: number | null;
  registration: KimRegistration;
  /** What getLimits answers (defaults applied); quota -1: none. */
  limits: { dataTimeToLive: number; maxMailSize: number; quota: number; remainQuota: number; used: number };
}
export interface KimRegistration {
  state: 'created' | 'registered' | 'deregistration-pending' | 'deleted';
  kimVersion: string | null;
  referenceID: string | null;
  deregDate: string | null;
  changedAt: string | null;
}
export interface Domain {
  name: string;
  createdAt: string;
}
export interface QueueEntry {
  id: number;
  queueId: string;
  sender: string;
  recipient: string;
  domain: string;
  size: number;
  attempts: number;
  state: 'sending' | 'waiting';
  nextAttemptAt: number;
  lastError: string | null;
  createdAt: number;
}
export interface Sample {
  t: number;
  accepted: number;
  rejected: number;
  delivered: number;
  relayed: number;
  relayFailed: number;
  queueDepth: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
}
export interface Stats {
  sampleMs: number;
  samples: Sample[];
}
export interface Status {
  health: { ok: boolean; checks: Record<string, string> };
  listeners: Array<{ name: string; host: string; port: number; tls: string }>;
}
export interface TraceSummary {
  id: string;
  receivedAt: string;
  messageId: string | null;
  mailFrom: string;
  recipients: number;
  size: number | null;
  komle: boolean;
  listener: string;
  status: string;
  node: string;
}
export interface TraceEvent {
  at: string;
  kind: string;
  node: string;
  detail: Record<string, unknown>;
}
export interface TraceDetail extends TraceSummary {
  clientIp: string | null;
  tls: string | null;
  authUser: string | null;
  recipientAddresses: string[];
  events: TraceEvent[];
}

/** A query string from the fields that have a value. */
export function query(fields: Record<string, string | number | undefined>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(fields)) if (v !== undefined && v !== '') p.set(k, String(v));
  const q = p.toString();
  return q ? `?${q}` : '';
}
export interface DirectoryEntry {
  dn: string;
  uid: string;
  telematikID: string;
  createdAt: string;
  modifiedAt: string;
  attributes: Record<string, string[]>;
  certificates: Array<{ sha256: string; subject: string; notAfter: string }>;
}
export interface CertificateDetails {
  sha256: string;
  kind: 'RSA' | 'ECC' | 'unknown';
  curve: string | null;
  keyBits: number | null;
  subject: string;
  issuer: string;
  serialNumber: string;
  notBefore: string;
  notAfter: string;
  keyUsage: string[];
  extendedKeyUsage: string[];
  state: 'valid' | 'expiring' | 'expired' | 'not-yet-valid' | 'unreadable';
  daysLeft: number | null;
}
export interface MailinDb {
  address: string;
  name: string;
  description: string | null;
  createdAt: string;
}
export interface MailinAgent {
  id: number;
  database: string;
  name: string | null;
  trigger: 'before-delivery' | 'after-delivery';
  kind: 'webhook' | 'script';
  url?: string;
  script?: string;
  timeoutMs: number;
  onFailure?: string;
  includeRaw: boolean;
  createdAt: string;
}
export interface MailinRun {
  id: number;
  database: string;
  agent: number;
  document: string;
  filed: boolean;
  job: number | null;
  trigger: string;
  attempt: number;
  startedAt: string;
  endedAt: string;
  durationMs: number;
  outcome: string;
  httpStatus: number | null;
  error: string | null;
}
export interface MailinJob {
  id: number;
  database: string;
  agent: number;
  document: string;
  state: 'queued' | 'running' | 'done' | 'dead';
  attempts: number;
  nextRunAt: string | null;
  lastError: string | null;
  createdAt: string;
  updatedAt: string;
}
export interface ClientModuleView {
  konnektor: { type: string; url?: string | null };
  mandanten: Array<{ id: string; clientSystems: string[]; workplaces: string[]; smcb: boolean; hbaUsers: string[] }>;
  /** konnektor: the software Konnektor's own list; accounts: a SOAP Konnektor's Mandanten as the accounts' contexts name them. */
  mandantenFrom: 'konnektor' | 'accounts';
  accounts: Array<{ address: string; contexts: Array<{ mandant: string; clientSystems: string[] | null; workplaces: string[] | null; users: string[] | null }> }>;
  recentOutcomes: number;
  outcomesHere: boolean;
}
export interface ClientModuleOutcome {
  at: string;
  direction: 'send' | 'receive';
  account: string;
  from: string;
  to: string[];
  result: 'ok' | 'partial' | 'failed';
  codes: Record<string, string | string[]>;
  error?: string;
}
