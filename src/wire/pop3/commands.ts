import { Pop3SyntaxError } from './errors.js';
import { decodeLine, excerpt } from './text.js';

/**
 * A parsed POP3 command: RFC 1939 (USER … UIDL, TOP), RFC 2449 CAPA, RFC 2595 STLS and
 * RFC 5034 AUTH. Message numbers are 1-based as on the wire; the server maps them.
 */
export type Pop3Command =
  | { name: 'USER'; user: string }
  | { name: 'PASS'; password: string }
  | { name: 'STAT' }
  | { name: 'LIST'; msg?: number }
  | { name: 'RETR'; msg: number }
  | { name: 'DELE'; msg: number }
  | { name: 'NOOP' }
  | { name: 'RSET' }
  | { name: 'QUIT' }
  | { name: 'TOP'; msg: number; lines: number }
  | { name: 'UIDL'; msg?: number }
  | { name: 'CAPA' }
  | { name: 'STLS' }
  /** `initialResponse` is the base64 text as sent; RFC 5034's "=" (empty response) becomes "". */
  | { name: 'AUTH'; mechanism: string; initialResponse?: string };

export type Pop3CommandName = Pop3Command['name'];

export const POP3_COMMANDS: readonly Pop3CommandName[] = [
  'USER', 'PASS', 'STAT', 'LIST', 'RETR', 'DELE', 'NOOP', 'RSET', 'QUIT', 'TOP', 'UIDL', 'CAPA', 'STLS', 'AUTH',
];
const KNOWN = new Set<string>(POP3_COMMANDS);

// Ten digits cover any maildrop; longer "numbers" are refused instead of losing precision.
const NUMBER_RE = /^[0-9]{1,10}$/;
// RFC 4422 section 3.1: SASL mechanism names.
const MECHANISM_RE = /^[A-Za-z0-9_-]{1,20}$/;

function number(cmd: string, arg: string, what: string, min: number): number {
  if (!NUMBER_RE.test(arg)) throw new Pop3SyntaxError('bad-number', `${cmd}: "${excerpt(arg)}" is not a ${what}`);
  const n = Number(arg);
  if (n < min) throw new Pop3SyntaxError('bad-number', `${cmd}: ${what}s start at ${min}`);
  return n;
}

function arity(cmd: string, args: string[], min: number, max: number, usage: string): void {
  if (args.length < min) throw new Pop3SyntaxError('missing-argument', `${cmd} needs ${usage}`);
  if (args.length > max) {
    throw new Pop3SyntaxError('extra-argument', max === 0 ? `${cmd} takes no arguments` : `${cmd} takes ${usage}, nothing more`);
  }
}

/**
 * Parses one command line (without its CRLF). Throws Pop3SyntaxError, and nothing else, for
 * any input. Keywords are case-insensitive; arguments are separated by spaces (runs of spaces
 * and trailing spaces are tolerated, as common clients send them). PASS takes the rest of the
 * line verbatim, as RFC 1939 section 7 permits, so passwords may contain spaces.
 */
export function parseCommand(line: Uint8Array, maxLength?: number): Pop3Command {
  const text = decodeLine(line, maxLength);
  const sp = text.indexOf(' ');
  const keyword = (sp < 0 ? text : text.slice(0, sp)).toUpperCase();
  const rest = sp < 0 ? '' : text.slice(sp + 1);
  if (keyword === '') throw new Pop3SyntaxError('empty', 'empty command');
  if (!KNOWN.has(keyword)) throw new Pop3SyntaxError('unknown-command', 'unknown command');

  if (keyword === 'PASS') {
    if (rest === '') throw new Pop3SyntaxError('missing-argument', 'PASS needs a password');
    return { name: 'PASS', password: rest };
  }

  const args = rest.split(' ').filter((a) => a !== '');
  switch (keyword) {
    case 'USER':
      arity('USER', args, 1, 1, 'one user name');
      return { name: 'USER', user: args[0]! };
    case 'STAT':
    case 'NOOP':
    case 'RSET':
    case 'QUIT':
    case 'CAPA':
    case 'STLS':
      arity(keyword, args, 0, 0, '');
      return { name: keyword };
    case 'LIST':
    case 'UIDL':
      arity(keyword, args, 0, 1, 'at most a message number');
      return args[0] === undefined ? { name: keyword } : { name: keyword, msg: number(keyword, args[0], 'message number', 1) };
    case 'RETR':
    case 'DELE':
      arity(keyword, args, 1, 1, 'a message number');
      return { name: keyword, msg: number(keyword, args[0]!, 'message number', 1) };
    case 'TOP':
      arity('TOP', args, 2, 2, 'a message number and a line count');
      return { name: 'TOP', msg: number('TOP', args[0]!, 'message number', 1), lines: number('TOP', args[1]!, 'line count', 0) };
    case 'AUTH': {
      arity('AUTH', args, 1, 2, 'a SASL mechanism and optionally an initial response');
      const mechanism = args[0]!;
      if (!MECHANISM_RE.test(mechanism)) throw new Pop3SyntaxError('bad-argument', `AUTH: "${excerpt(mechanism)}" is not a SASL mechanism name`);
      const ir = args[1];
      if (ir === undefined) return { name: 'AUTH', mechanism: mechanism.toUpperCase() };
      return { name: 'AUTH', mechanism: mechanism.toUpperCase(), initialResponse: ir === '=' ? '' : ir };
    }
  }
  // Unreachable: every member of KNOWN is handled above.
  throw new Pop3SyntaxError('unknown-command', 'unknown command');
}
