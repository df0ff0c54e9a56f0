export { createTestPki, ECC_CURVE, PRACTICE_KEYS, type PracticeSpec, type PracticeKeys, type IssuedIdentity, type TestPkiResult } from './test-pki.js';
export { encodeAdmission, decodeAdmission, ADMISSION_OID, type Admission } from './admission.js';
export { createPkcs12 } from './pkcs12.js';
export { readPkcs12, Pkcs12Error, type Pkcs12Contents } from './pkcs12-read.js';
export { pemBlocks, toPem } from './pem.js';
export { issueClientModuleCert, MAX_COMMON_NAME, type ClientModuleCa, type ClientModuleCertOptions, type ClientModuleCertRequest } from './client-module-cert.js';
