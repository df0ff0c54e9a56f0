export { createSelfSignedTls, fingerprint, type PemPair } from './selfsigned.js';
export { loadTlsMaterial, type TlsMaterial } from './tls-material.js';
export {
  createTestPki,
  decodeAdmission,
  encodeAdmission,
  createPkcs12,
  readPkcs12,
  Pkcs12Error,
  pemBlocks,
  toPem,
  ADMISSION_OID,
  type PracticeSpec,
  type PracticeKeys,
  type TestPkiResult,
  type Admission,
  type Pkcs12Contents,
  issueClientModuleCert,
  type ClientModuleCertRequest,
} from './pki/index.js';
export * from './cms/index.js';
export * from './konnektor/index.js';
export * from './komle/index.js';
