export * as pop3 from './pop3/index.js';
export { decodeSaslPlain, encodeSaslPlain, encodeSaslLogin, parseSaslResponse, SaslError, type SaslPlainCredentials, type SaslResponse, type SaslProblem } from './sasl.js';
export * as kim from './kim/index.js';
export * as mime from './mime/index.js';
export * as dsn from './dsn/index.js';
export * as konnektor from './konnektor/index.js';
