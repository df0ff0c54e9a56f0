// MIME and RFC 5322 pieces the KOM-LE layer needs: header blocks read from bytes (fields keep
// their raw bytes), Content-Type parameters, addresses, dates and base64 bodies. Pure, no I/O.
export {
  readHeaderBlock,
  findField,
  findFields,
  unfold,
  comparableValue,
  rawWithCrlf,
  formatField,
  HeaderSyntaxError,
  type HeaderField,
  type HeaderBlock,
} from './headers.js';
export { parseContentType, parseParams, type ContentType } from './content-type.js';
export { addressesIn } from './address.js';
export { formatRfc5322Date } from './date.js';
export { encodeBase64Lines, decodeBase64Body } from './base64.js';
export {
  splitMultipart,
  isValidBoundary,
  type ByteRange,
  type Delimiter,
  type MultipartLayout,
  type MultipartFailure,
  type MultipartSplit,
  type SplitOptions,
} from './multipart.js';
export { editHeader, canonicalLineEnds, type HeaderEdit } from './header-edit.js';
export {
  parseAddressList,
  addressesOf,
  filterAddressList,
  formatAddressField,
  type AddressItem,
  type MailboxItem,
  type GroupItem,
  type FilteredAddressList,
} from './address-list.js';
