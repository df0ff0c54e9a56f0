export * as pop3 from './pop3/index.js';
