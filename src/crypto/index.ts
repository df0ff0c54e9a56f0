export { createSelfSignedTls, fingerprint, type PemPair } from './selfsigned.js';
export { loadTlsMaterial, type TlsMaterial } from './tls-material.js';
export { createTestPki, decodeAdmission, encodeAdmission, createPkcs12, ADMISSION_OID, type PracticeSpec, type TestPkiResult, type Admission } from './pki/index.js';
export * from './cms/index.js';
