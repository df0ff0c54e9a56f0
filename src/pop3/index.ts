/** The POP3 protocol edge: a server over a narrow backend (see backend.ts). */
export { Pop3Server, createPop3Server } from './server.js';
export { Pop3Client, Pop3ClientError, type Pop3ClientOptions, type Pop3ClientErrorKind } from './client.js';
export type { Pop3ServerOptions, Pop3Limits } from './options.js';
export {
  Pop3MessageGoneError,
  type Pop3Backend,
  type Pop3LoginRequest,
  type Pop3LoginResult,
  type Pop3Maildrop,
  type Pop3Message,
} from './backend.js';
