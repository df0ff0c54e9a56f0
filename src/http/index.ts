export { createHttpServer, listenHttp, type HttpServerOptions } from './server.js';
export { registerAdminApi, resolveAdminToken, tokenMatches, type AdminApiOptions } from './admin.js';
export { accountsAdminRoutes, type AccountsAdminView } from './admin/accounts.js';
export { directoryAdminRoutes, type DirectoryAdminView } from './admin/directory.js';
export { mailinAdminRoutes, type MailinAdminView } from './admin/mailin.js';
export { integrationRoutes, type IntegrationBackend, type IntegrationEndpointOptions, type IntegrationListUser } from './integration.js';
export { queueAdminRoutes, type QueueAdminView } from './admin/queue.js';
export { konnektorAdminRoutes, type KonnektorAdminView } from './admin/konnektor.js';
export { traceAdminRoutes, type TraceAdminView } from './admin/trace.js';
