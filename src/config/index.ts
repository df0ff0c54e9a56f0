export { configSchema, type Config, type SmtpConfig, type Pop3Config, type HttpConfig, type DirectoryConfig, type KonnektorConfig, type KonnektorSimConfig, type ClientModuleConfig, type MailinConfig, type RelayConfig, type TlsConfig } from './schema.js';
export { loadConfig, parseConfig, formatIssues, inDataDir, ENV_OVERRIDES, type LoadedConfig } from './load.js';
export { integrationSchema, userSourceSchema, type IntegrationConfig, type UserSourceConfig } from './integration.js';
export type { ClientModuleAccount, ClientModuleProvider } from './client-module-accounts.js';
export { clientModuleWarnings } from './client-module-checks.js';
export type { PraxisConfig, PraxisPracticeConfig } from './praxis.js';
