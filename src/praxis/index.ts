export { Praxis, PraxisError, type Practice, type PraxisOptions, type MessageSummary, type OpenedMessage, type SendOutcome, type RecipientOutcome, type AttachmentContent, type Pop3Counters, type PraxisErrorKind } from './praxis.js';
export { DirectorySearch, directoryFilter, kimVersionsOf, DirectoryQueryError, type DirectoryQuery, type DirectoryHit } from './directory-search.js';
export { checkDraft, composeMessage, DraftError, DEFAULT_DIENSTKENNUNG, type Draft, type ComposeLimits } from './compose.js';
export { kimResultOf, KIM_HEADERS, type KimResult, type KimStatus } from './kim-results.js';
export { headerFields } from './headers.js';
