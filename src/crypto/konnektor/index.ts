// The Konnektor seen from the client module: sign, encrypt, decrypt, verify and read card
// certificates under a call context (Mandant, ClientSystem, Workplace, User). The software
// Konnektor holds keys in files; a SOAP client for a real Konnektor can implement the same interface.
export type { Konnektor, KonnektorContext, CertRef, Crypt, SignDocumentRequest, ExternalAuthenticateRequest, EncryptDocumentRequest, DecryptDocumentRequest, VerifyDocumentRequest } from './types.js';
export { KonnektorError, isContextError, type KonnektorErrorCode } from './errors.js';
export { cryptOf, type CardKey, type SoftwareCard, type CardLoader } from './card.js';
export { eccCapable, atLeast, ECC_MINIMUM, type KonnektorServiceVersions } from './ecc-capability.js';
export { cardLoaderFromFiles, loadKeySource, loadKeyPath, readCertificateFile, type KeySource, type CardFiles } from './card-files.js';
export { SoftwareKonnektor, SOFTWARE_KONNEKTOR_INFO, SOFTWARE_SERVICE_VERSIONS, type SoftwareMandant, type SoftwareKonnektorOptions } from './software.js';
export { createKonnektor } from './factory.js';
export { instrumentKonnektor } from './instrumented.js';
export { RoutingKonnektor, konnektorFor } from './routing.js';
export { konnektorStatus, formatKonnektorStatus, type KonnektorStatus, type CardStatus, type CertificateStatus, type CardInfoSource } from './status.js';
export { SoapKonnektor, type SoapKonnektorOptions, type KonnektorCard, type PinStatus } from './soap/soap-konnektor.js';
export { parseServiceDirectory, VENDORED_WSDLS, type ServiceDirectory, type ChosenService, type ServiceName } from './soap/sds.js';
export { signDigest, type AuthSignatureScheme } from './external-auth.js';
export { CryptoWorkerPool } from './worker-pool.js';
