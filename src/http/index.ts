export { createHttpServer, listenHttp, type HttpServerOptions } from './server.js';
