export { AccountManager, AccountManagerError, type AccountManagerErrorKind, type AccountFields, type AccountView, type OutOfOffice, type AccountManagerOptions, type CertificateParameters, type ClientCertificateIssuer } from './account-manager.js';
export { checkAccountManagerJwt, telematikIdOf, JwtError, type CheckedJwt, type JwtCheckOptions } from './jwt.js';
