/**
 * The POP3 wire codec: pure functions over bytes and strings, no sockets, no storage. The
 * server in src/pop3/ and the POP3 client build on it; it is fuzzed on its own. SASL is
 * ../sasl.ts, shared with SMTP.
 */
export { Pop3SyntaxError, type Pop3SyntaxReason } from './errors.js';
export { parseCommand, POP3_COMMANDS, type Pop3Command, type Pop3CommandName } from './commands.js';
export { LineSplitter, type LineEvent } from './lines.js';
export { okLine, errLine, continuationLine, multiline, parseStat, parseScanListing, parseUidListing, type Pop3ResponseCode } from './responses.js';
export { Pop3ResponseReader, Pop3ResponseError, type Pop3Response, type Pop3ResponseProblem, type Pop3ResponseLimits } from './response-reader.js';
export { DotStuffer, dotStuff, dotStuffStream, dotUnstuff } from './dotstuff.js';
export { extractTop } from './top.js';
export { decodeLine } from './text.js';
