/** Postamt's client-module version for X-KIM-CMVersion (gemSpec_CM_KOMLE A_21388: VendorID_x.y.z[-n]). */
export const CM_VERSION = 'POSTA_1.0.0';
/** The KOM-LE product type version implemented, for X-KIM-PTVersion (x.y.z[-n]). */
export const PT_VERSION = '1.5.0';
export const CM_VERSION_PATTERN = /^[a-zA-Z0-9_]{1,5}_\d{1,2}\.\d{1,2}\.\d{1,2}(-(25[0-5]|2[0-4]\d|[01]?\d?\d))?$/;
export const PT_VERSION_PATTERN = /^\d{1,2}\.\d{1,2}\.\d{1,2}(-(25[0-5]|2[0-4]\d|[01]?\d?\d))?$/;

/** X-KOM-LE-Version values this implementation reads and writes. */
export const KOMLE_VERSIONS = ['1.0', '1.5'] as const;
export type KomLeVersion = (typeof KOMLE_VERSIONS)[number];
/**
 * What a message needs on the receiving side (gemSMIME_KOMLE KOM-LE-A_2100-02): 1.5 only for a
 * message whose content lies on the KAS, which Postamt does not build; every other message is 1.0.
 */
export const DEFAULT_KOMLE_VERSION: KomLeVersion = '1.0';
/** The client module's own KOM-LE version (the PT version's major.minor), compared with the directory's (A_21387-01). */
export const CM_KOMLE_VERSION = PT_VERSION.split('.').slice(0, 2).join('.');
/**
 * X-KIM-KONVersion (A_21388-01): `<Productname><ProductType><ProductTypeVersion><HWVersion><FWVersion>`,
 * five bracketed parts, e.g. `<secunet konnektor 2.0.0><Konnektor PTV4Plus><4.80.3><2.0.0><4.10.1>`.
 */
export const KON_VERSION_PATTERN = /^(<[^<>\r\n]+>){5}$/;

export const KOMLE_SUBJECT = 'KOM-LE-Nachricht';
export const DEFAULT_DIENSTKENNUNG = 'KIM-Mail;Default;V1.0';
/** Account default of the KIM account limits API (10–90 days). */
export const DEFAULT_DATA_TIME_TO_LIVE_DAYS = 90;

export const OUTER_CONTENT_TYPE = 'application/pkcs7-mime; smime-type=authenticated-enveloped-data; name=smime.p7m';
export const SIGNED_CONTENT_TYPE = 'application/pkcs7-mime; smime-type=signed-data; name=smime.p7m';
export const P7M_DISPOSITION = 'attachment; filename=smime.p7m';

/**
 * Fields the outer message repeats byte for byte from the inner one (gemSMIME_KOMLE
 * KOM-LE-A_2098-03: orig-date, from, sender, reply-to, to, cc, bcc). The client module takes Bcc
 * out of every copy before sealing (docs/client-module.md), so through it Bcc is never there.
 */
export const COPIED_FIELDS = ['Date', 'From', 'Sender', 'Reply-To', 'To', 'Cc', 'Bcc'] as const;

/**
 * X-KIM-* fields the client module writes itself. They are never copied from the PS's message
 * (ours win), and never taken from a received inner message into what the PS sees.
 */
export const OWN_KIM_FIELDS = ['x-kim-cmversion', 'x-kim-ptversion', 'x-kim-konversion'] as const;
export const RESULT_FIELDS = ['x-kim-decryptionresult', 'x-kim-integritycheckresult', 'x-kim-fehlermeldung'] as const;
