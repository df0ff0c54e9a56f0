export { createSelfSignedTls, fingerprint, type PemPair } from './selfsigned.js';
export { loadTlsMaterial, type TlsMaterial } from './tls-material.js';
