export { buildDeliveryReport, type DeliveryReportInput, type ReportRecipient } from './report.js';
