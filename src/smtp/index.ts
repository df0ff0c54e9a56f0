export { SmtpListener, type SmtpListenerOptions } from './server.js';
export { SmtpReply, replies } from './reply.js';
export type { SmtpBackend, SmtpSession, SmtpEnvelope } from './backend.js';
export { SmtpClient, SmtpClientError, type SmtpClientOptions, type SmtpSendResult, type SmtpClientErrorKind, type StreamedMessage } from './client.js';
