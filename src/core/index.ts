export { createLogger, silentLogger, type Logger } from './logger.js';
export { PostamtError, UsageError, NotFoundError, ConflictError, errorMessage } from './errors.js';
export { Metrics } from './metrics.js';
export { LoginThrottle, type LoginThrottleOptions } from './login-throttle.js';
export { isLoopback, isLoopbackHost } from './net.js';
export { openClientSocket, clientTlsOptions, ClientSocketError, type ClientSocketOptions } from './client-socket.js';
export { randomHex } from './random-hex.js';
export { RequestThread, ThreadSet, answerRequests, type ThreadReply } from './request-thread.js';
