export { configSchema, type Config, type SmtpConfig, type Pop3Config, type HttpConfig, type DirectoryConfig, type KonnektorConfig, type ClientModuleConfig } from './schema.js';
export { loadConfig, parseConfig, formatIssues, inDataDir, ENV_OVERRIDES, type LoadedConfig } from './load.js';
