export { DataChecker, describeViolation, type DataViolation, type DataCheckOptions } from './data-check.js';
export { formatReceived, formatReturnPath, withoutReturnPath, type ReceivedInfo } from './trace-headers.js';
export { encodeDataSection, DataSectionEncoder } from './data-encode.js';
export { SmtpReplyReader, SmtpReplyError, formatSmtpReply, splitEnhancedStatus, type SmtpClientReply, type SmtpReplyProblem, type SmtpReplyLimits } from './reply.js';
