// The Konnektor simulator: gematik's Konnektor SOAP services (vendored WSDLs) over HTTPS, backed by
// the software Konnektor's cards, for testing the SOAP Konnektor client. docs/konnektor.md.
export { KonnektorSimulator, SIM_OPERATIONS, type SimOperation, type KonnektorSimOptions, type SimClientAuth } from './simulator.js';
export { TELEMATIK_ERRORS, TelematikFault, type TelematikErrorCode } from './errors.js';
export { PIN_STATUSES, type PinStatus } from './cards.js';
export { serviceWsdl, apiTelematikDir, type ServiceName } from './wsdl.js';
