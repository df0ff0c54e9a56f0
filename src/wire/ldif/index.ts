export { LdifReader, readLdif, type LdifRecord, type LdifAttributeValue, type LdifReaderOptions } from './reader.js';
export { formatLdifRecord, formatLdifLine, isSafeLdifValue, LDIF_VERSION_LINE } from './writer.js';
