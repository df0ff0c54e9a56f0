/**
 * The POP3 wire codec: pure functions over bytes and strings, no sockets, no storage. The
 * server in src/pop3/ and any POP3 client build on it; it is fuzzed on its own.
 */
export { Pop3SyntaxError, type Pop3SyntaxReason } from './errors.js';
export { parseCommand, POP3_COMMANDS, type Pop3Command, type Pop3CommandName } from './commands.js';
export { LineSplitter, type LineEvent } from './lines.js';
export { okLine, errLine, continuationLine, multiline, type Pop3ResponseCode } from './responses.js';
export { DotStuffer, dotStuff } from './dotstuff.js';
export { extractTop } from './top.js';
export { decodeSaslPlain, encodeSaslPlain, parseSaslResponse, type SaslPlainCredentials, type SaslResponse } from './sasl.js';
export { decodeLine } from './text.js';
