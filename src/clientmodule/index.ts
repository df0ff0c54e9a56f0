// The client module (gemSpec_CM_KOMLE): what a primary system talks to. SMTP in, sealed KOM-LE
// messages out to the mail service; POP3 in, decrypted and verified messages back.
export { ClientModuleSmtpBackend, type ClientModuleSmtpOptions } from './smtp-backend.js';
export { ByteBudget, ClientModulePop3Backend, PresentedSizeCache, type ClientModulePop3Options } from './pop3-backend.js';
export { CertificateLookup, DirectoryUnavailableError, usableForEncryption, type CertLookupOptions, type DirectoryRecord, type EncryptionCertificate } from './cert-lookup.js';
export { komLeVersionOf, compareVersions, type KomLeVersionInfo } from './komle-version.js';
export { judgeRecipient, planCopies, senderFieldProblem, usableWithKonnektor, type CopyPlan, type RecipientVerdict } from './send-plan.js';
export { SEND_FEHLERCODES, type SendFehlercode } from './send-codes.js';
export { UpstreamSmtp, UpstreamSmtpError, type UpstreamTarget } from './upstream-smtp.js';
export { buildDsn, dsnCodes, type DroppedRecipient, type DsnInput, type OutdatedClientModule } from './dsn.js';
export { LoginPolicy, type LoginRefusal, type LoginVerdict } from './login-policy.js';
export { OutcomeRing, type ClientModuleOutcome } from './outcomes.js';
export { AccountLimitClient, type AccountLimits as ClientAccountLimits, type AccountLimitClientOptions } from './account-limits.js';
export { clientCertificateFor, type ClientCertificate, type ClientCertificateFor } from './client-certificates.js';
