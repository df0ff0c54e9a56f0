import { LdapResultCode, type LdapResultCodeName } from './backend.js';

const NAMES = new Map<number, LdapResultCodeName>(Object.entries(LdapResultCode).map(([k, v]) => [v, k as LdapResultCodeName]));

/** The name of a numeric result code, for logs and metric labels. */
export function resultName(code: number): string {
  return NAMES.get(code) ?? String(code);
}

/** What one finished operation reports for its log line and metrics. */
export interface OpOutcome {
  /** The result code sent, or 'abandoned' / 'none' (unbind, abandon) when no response went out. */
  result: string;
  [detail: string]: unknown;
}
