import { randomUUID, X509Certificate } from 'node:crypto';
import type { Agent } from 'node:https';
import type { Logger } from '../../../core/logger.js';
import {
  encodeRecipientEmailsAttribute,
  envelopeOutline,
  parseRecipientCertificate,
  recipientIdOf,
  ridMatchesCertificate,
  verifySignedData,
  VERIFY_CHECKS,
  type DecryptedEnvelope,
  type SignedDataVerification,
  type VerifyCheckName,
} from '../../cms/index.js';
import type { CheckResult } from '../../cms/chain.js';
import { readPkcs12 } from '../../pki/pkcs12-read.js';
import { toPem } from '../../pki/pem.js';
import { atLeast, type KonnektorServiceVersions } from '../ecc-capability.js';
import { KonnektorError } from '../errors.js';
import type { CertRef, Crypt, DecryptDocumentRequest, EncryptDocumentRequest, ExternalAuthenticateRequest, Konnektor, KonnektorContext, SignDocumentRequest, VerifyDocumentRequest } from '../types.js';
import { KonnektorNetworkError, SoapCaller } from './call.js';
import { KonnektorFault } from './faults.js';
import * as rq from './requests.js';
import { fetchServiceDirectory, createKonnektorAgent, type SoapTransportOptions } from './transport.js';
import { parseServiceDirectory, type ServiceDirectory, type ServiceName } from './sds.js';
import { child, children, path, unb64, XmlError, type XmlElement } from './xml.js';

export interface SoapKonnektorOptions {
  /** connector.sds (https). */
  readonly url: string;
  readonly transport: SoapTransportOptions;
  /** The client certificate as exported from the Konnektor's admin UI; read at `ready()` (it overrides transport.clientCert). */
  readonly clientP12?: { readonly bytes: Uint8Array; readonly password: string };
  /** SignDocument and VerifyPin (a PIN may be typed at the terminal meanwhile); default transport.timeoutMs. */
  readonly signTimeoutMs?: number;
  /** How long a context's GetCards answer (and the certificates read from its cards) is reused. */
  readonly cardCacheMs: number;
  readonly logger?: Logger;
}

/** A card as GetCards lists it (CardService.xsd CardInfoType). */
export interface KonnektorCard {
  readonly handle: string;
  readonly type: string;
  readonly iccsn?: string;
  readonly ctId?: string;
  readonly slotId?: string;
  readonly holderName?: string;
  readonly certificateExpiration?: string;
}

export interface PinStatus {
  readonly status: string;
  readonly leftTries?: number;
}


interface CardsEntry {
  readonly at: number;
  readonly cards: Promise<KonnektorCard[]>;
  /** Certificates read from these cards, by handle, CertRef and Crypt ('' when absent). */
  readonly certs: Map<string, Promise<Uint8Array | null>>;
}

const SMCB_TYPES = ['SMC-B', 'SM-B', 'HSM-B'];
const HBA_TYPES = ['HBA', 'HBAx', 'HBA-qSig'];
const ID_DATA = '1.2.840.113549.1.7.1';

/**
 * The Konnektor of a practice, over its SOAP interfaces (gemSpec_CM_KOMLE 3.8). The service
 * directory is read once (`ready()`); it decides endpoints, WSDL versions, ECC (A_17464) and the
 * product line for X-KIM-KONVersion. Cards are found per context with GetCards: signing and the
 * card's own certificates use its SMC-B (KOM-LE-A_2020, KOM-LE-A_2052); decryption looks at
 * every SMC-B and HBA of the context for the certificate recipient-emails names (KOM-LE-A_2059,
 * KOM-LE-A_2060) — the Konnektor's interface has no UserId → HBA lookup, the UserId rides along
 * in the Context for the Konnektor's own access rules.
 */
export class SoapKonnektor implements Konnektor {
  private sds: ServiceDirectory | undefined;
  private loading: Promise<ServiceDirectory> | undefined;
  private agent: Agent | undefined;
  private caller: SoapCaller | undefined;
  private refreshing: Promise<void> | undefined;
  private readonly cardCache = new Map<string, CardsEntry>();

  constructor(private readonly opts: SoapKonnektorOptions) {
    if (!opts.clientP12) this.transport(opts.transport);
  }

  private transport(t: SoapTransportOptions): { agent: Agent; caller: SoapCaller } {
    this.agent ??= createKonnektorAgent(t);
    this.caller ??= new SoapCaller(this.agent, t);
    return { agent: this.agent, caller: this.caller };
  }

  /** The agent, once the PKCS#12 (if any) is read; a wrong password is a setup error, `unavailable` with the reason. */
  private async connection(): Promise<{ agent: Agent; caller: SoapCaller }> {
    if (this.agent && this.caller) return { agent: this.agent, caller: this.caller };
    const p12 = this.opts.clientP12!;
    let contents;
    try {
      contents = await readPkcs12(p12.bytes, p12.password);
    } catch (err) {
      throw new KonnektorError('unavailable', `konnektor.soap.tls.clientP12 cannot be read: ${(err as Error).message}`, { cause: err });
    }
    const cert = toPem(contents.certDer, 'CERTIFICATE') + contents.chainDer.map((c) => toPem(c, 'CERTIFICATE')).join('');
    const key = contents.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    return this.transport({ ...this.opts.transport, clientCert: { cert, key } });
  }

  /** A ready one: the service directory read (rejects with `unavailable` when it cannot be). */
  static async connect(opts: SoapKonnektorOptions): Promise<SoapKonnektor> {
    const k = new SoapKonnektor(opts);
    await k.ready();
    return k;
  }

  /**
   * Reads connector.sds once. The role awaits it before taking connections: `productInfo` and
   * `eccCapable` are asked synchronously later. A failed read is not remembered, the next call
   * tries again (a Konnektor that boots after us).
   */
  ready(): Promise<void> {
    if (this.sds) return Promise.resolve();
    this.loading ??= this.connection()
      .then(({ agent }) => fetchServiceDirectory(this.opts.url, agent, this.opts.transport))
      .then((xml) => parseServiceDirectory(xml, this.opts.url))
      .then(
        (sds) => {
          this.sds = sds;
          return sds;
        },
        (err: unknown) => {
          this.loading = undefined;
          throw err;
        },
      );
    return this.loading.then(() => undefined);
  }

  get productInfo(): string {
    return this.directory().productInfo;
  }

  get eccCapable(): boolean {
    return this.directory().eccCapable;
  }

  get serviceVersions(): KonnektorServiceVersions {
    return this.directory().serviceVersions;
  }

  async close(): Promise<void> {
    this.agent?.destroy();
  }

  private directory(): ServiceDirectory {
    if (!this.sds) throw new KonnektorError('unavailable', `the Konnektor's service directory (${this.opts.url}) has not been read yet`);
    return this.sds;
  }

  private async svc(name: ServiceName): Promise<NonNullable<ServiceDirectory['services'][ServiceName]>> {
    await this.ready();
    const svc = this.directory().services[name];
    if (!svc) throw new KonnektorError('unavailable', `this Konnektor's connector.sds announces no ${name}`);
    return svc;
  }

  /** One call, logged on failure (operation and code only: never contents or secrets); idempotent ones once more after a network error. */
  private async call(name: ServiceName, operation: string, body: string, o: { idempotent?: boolean; timeoutMs?: number } = {}): Promise<XmlElement> {
    const svc = await this.svc(name);
    try {
      try {
        return await this.caller!.call(svc, operation, body, o.timeoutMs);
      } catch (err) {
        if (!(err instanceof KonnektorNetworkError)) throw err;
        this.refreshDirectory();
        if (!o.idempotent) throw err;
        return await this.caller!.call(svc, operation, body, o.timeoutMs);
      }
    } catch (err) {
      const e = err as KonnektorError;
      this.opts.logger?.warn({ operation, code: e.code, telematikCode: err instanceof KonnektorFault ? err.telematikCode : undefined }, 'Konnektor call failed');
      throw err;
    }
  }

  /**
   * KOM-LE-A_2076: after a connection problem the service directory is read again (the
   * Konnektor may announce other endpoints now); the old one stays in use until a new one is read.
   */
  private refreshDirectory(): void {
    this.refreshing ??= this.connection()
      .then(({ agent }) => fetchServiceDirectory(this.opts.url, agent, this.opts.transport))
      .then((xml) => parseServiceDirectory(xml, this.opts.url))
      .then(
        (sds) => {
          this.sds = sds;
        },
        (err: unknown) => this.opts.logger?.warn({ err: (err as Error).message }, 'connector.sds could not be read again'),
      )
      .finally(() => {
        this.refreshing = undefined;
      });
  }

  /** Resolves when a service-directory refresh started by a connection problem has ended (tests). */
  async settled(): Promise<void> {
    await this.refreshing;
  }

  // ---- cards ----

  /** The context's cards, from GetCards at most every cardCacheMs. */
  async cards(ctx: KonnektorContext, fresh = false): Promise<KonnektorCard[]> {
    return this.cardsEntry(ctx, fresh).cards;
  }

  private cardsEntry(ctx: KonnektorContext, fresh: boolean): CardsEntry {
    const key = JSON.stringify([ctx.mandantId, ctx.clientSystemId, ctx.workplaceId, ctx.userId ?? '']);
    const hit = this.cardCache.get(key);
    if (hit && !fresh && Date.now() - hit.at < this.opts.cardCacheMs) return hit;
    const entry: CardsEntry = { at: Date.now(), cards: this.getCards(ctx), certs: new Map() };
    this.cardCache.set(key, entry);
    entry.cards.catch(() => {
      if (this.cardCache.get(key) === entry) this.cardCache.delete(key);
    });
    return entry;
  }

  private async getCards(ctx: KonnektorContext): Promise<KonnektorCard[]> {
    const res = await this.call('EventService', 'GetCards', rq.getCardsXml(ctx), { idempotent: true });
    const cardsEl = child(res, 'Cards');
    if (!cardsEl) throw malformed('GetCards', 'no Cards element');
    return children(cardsEl, 'Card').map((c) => {
      const t = (n: string): string | undefined => child(c, n)?.text.trim() || undefined;
      const handle = t('CardHandle');
      if (!handle) throw malformed('GetCards', 'a Card without CardHandle');
      return { handle, type: t('CardType') ?? 'UNKNOWN', iccsn: t('Iccsn'), ctId: t('CtId'), slotId: t('SlotId'), holderName: t('CardHolderName'), certificateExpiration: t('CertificateExpirationDate') };
    });
  }

  private async smcb(ctx: KonnektorContext, fresh = false): Promise<KonnektorCard> {
    const card = (await this.cards(ctx, fresh)).find((c) => SMCB_TYPES.includes(c.type));
    // KOM-LE-A_2057: no SMC-B, no signature (and no own certificate).
    if (!card) throw new KonnektorError('card-not-found', `no SMC-B among the cards the Konnektor lists for Mandant ${ctx.mandantId}`);
    return card;
  }

  /** Runs `fn` with the SMC-B's handle; a handle the Konnektor no longer knows is looked up again, once. */
  private async withSmcb<T>(ctx: KonnektorContext, fn: (card: KonnektorCard) => Promise<T>): Promise<T> {
    const card = await this.smcb(ctx);
    try {
      return await fn(card);
    } catch (err) {
      if (!(err instanceof KonnektorFault) || !err.staleHandle) throw err;
      return fn(await this.smcb(ctx, true));
    }
  }

  // ---- certificates ----

  /** ECC needs an ECC-capable Konnektor (A_17464) and a CertificateService with Crypt (6.0.1). */
  private cryptParam(name: 'CertificateService' | 'SignatureService' | 'EncryptionService', crypt: Crypt): Crypt | undefined {
    const sds = this.directory();
    const min = { CertificateService: '6.0.1', SignatureService: '7.4.1', EncryptionService: '6.1.1' }[name];
    const hasCrypt = atLeast(sds.services[name].wsdlVersion, min);
    if (crypt === 'ECC' && (!sds.eccCapable || !hasCrypt)) {
      throw new KonnektorError('key-not-available', `this Konnektor's services (SignatureService ${sds.serviceVersions.signatureService}, EncryptionService ${sds.serviceVersions.encryptionService}, ${name} ${sds.services[name].version}) do not offer ECC`);
    }
    return hasCrypt ? crypt : undefined;
  }

  async readCardCertificate(ctx: KonnektorContext, certRef: CertRef, crypt: Crypt = 'RSA'): Promise<Uint8Array> {
    await this.ready();
    const param = this.cryptParam('CertificateService', crypt);
    return this.withSmcb(ctx, async (card) => {
      const der = await this.cardCertificate(ctx, card, certRef, param);
      if (!der) throw new KonnektorError('key-not-available', `the SMC-B of Mandant ${ctx.mandantId} holds no ${certRef} ${crypt} certificate`);
      return der;
    });
  }

  /** A card's certificate (cached with the card list), or null when the card has none of that kind. */
  private cardCertificate(ctx: KonnektorContext, card: KonnektorCard, certRef: CertRef, crypt: Crypt | undefined): Promise<Uint8Array | null> {
    const entry = this.cardsEntry(ctx, false);
    const key = `${card.handle} ${certRef} ${crypt ?? ''}`;
    let pending = entry.certs.get(key);
    if (!pending) {
      pending = this.fetchCertificate(ctx, card.handle, certRef, crypt);
      entry.certs.set(key, pending);
      pending.catch(() => entry.certs.delete(key));
    }
    return pending;
  }

  private async fetchCertificate(ctx: KonnektorContext, handle: string, certRef: CertRef, crypt: Crypt | undefined): Promise<Uint8Array | null> {
    let res: XmlElement;
    try {
      res = await this.call('CertificateService', 'ReadCardCertificate', rq.readCardCertificateXml(ctx, handle, certRef, crypt), { idempotent: true });
    } catch (err) {
      if (err instanceof KonnektorError && err.code === 'key-not-available') return null;
      throw err;
    }
    const info = children(child(res, 'X509DataInfoList'), 'X509DataInfo').find((i) => child(i, 'CertRef')?.text.trim() === certRef);
    const certEl = path(info, 'X509Data', 'X509Certificate');
    if (!certEl) return null;
    const der = decode(certEl.text, 'ReadCardCertificate', 'X509Certificate');
    try {
      new X509Certificate(der);
    } catch {
      throw malformed('ReadCardCertificate', 'X509Certificate is not a certificate');
    }
    return der;
  }

  // ---- signing, encryption ----

  async externalAuthenticate(ctx: KonnektorContext, req: ExternalAuthenticateRequest): Promise<Uint8Array> {
    await this.ready();
    return this.withSmcb(ctx, async (card) => {
      const body = rq.externalAuthenticateXml(ctx, card.handle, req.hash, req.scheme ?? 'RSASSA-PSS');
      const res = await this.call('AuthSignatureService', 'ExternalAuthenticate', body, { timeoutMs: this.opts.signTimeoutMs });
      const sigEl = path(res, 'SignatureObject', 'Base64Signature');
      if (!sigEl) throw malformed('ExternalAuthenticate', 'no SignatureObject/Base64Signature');
      return decode(sigEl.text, 'ExternalAuthenticate', 'Base64Signature');
    });
  }

  async signDocument(ctx: KonnektorContext, req: SignDocumentRequest): Promise<Uint8Array> {
    await this.ready();
    const crypt = this.cryptParam('SignatureService', req.crypt ?? 'RSA');
    const sig = this.directory().services.SignatureService;
    const attribute = encodeRecipientEmailsAttribute(req.recipientEmails);
    return this.withSmcb(ctx, async (card) => {
      const body = rq.signDocumentXml(ctx, { sigVersion: sig.version, cardHandle: card.handle, crypt, content: req.content, recipientEmailsAttribute: attribute, requestId: `postamt-${randomUUID()}` });
      const res = await this.call('SignatureService', 'SignDocument', body, { timeoutMs: this.opts.signTimeoutMs });
      const sigEl = path(child(res, 'SignResponse'), 'SignatureObject', 'Base64Signature');
      if (!sigEl) throw malformed('SignDocument', 'no SignatureObject/Base64Signature');
      return decode(sigEl.text, 'SignDocument', 'Base64Signature');
    });
  }

  async encryptDocument(ctx: KonnektorContext, req: EncryptDocumentRequest): Promise<Uint8Array> {
    const recipientEmails = req.recipients.map((r) => ({ email: r.email, rid: recipientIdOf(r.certDer) }));
    const body = rq.encryptDocumentXml(ctx, req.recipients.map((r) => r.certDer), req.content, encodeRecipientEmailsAttribute(recipientEmails));
    const res = await this.call('EncryptionService', 'EncryptDocument', body);
    const data = path(res, 'Document', 'Base64Data');
    if (!data) throw malformed('EncryptDocument', 'no Document/Base64Data');
    return decode(data.text, 'EncryptDocument', 'Base64Data');
  }

  /**
   * KOM-LE-A_2059/2060: the context's SMC-Bs and HBAs, their C.ENC certificates (RSA, and ECC
   * where the Konnektor can), the first one recipient-emails names for the fetching user
   * (`recipientIds`) decrypts. recipient-emails, content type and RecipientInfo count come from
   * the envelope itself, the content from the Konnektor.
   */
  async decryptDocument(ctx: KonnektorContext, req: DecryptDocumentRequest): Promise<DecryptedEnvelope> {
    const outline = envelopeOutline(req.document); // a damaged envelope is the data's fault: CmsError, before any call
    await this.ready();
    const crypts: Crypt[] = this.eccCapable ? ['RSA', 'ECC'] : ['RSA'];
    const attempt = async (fresh: boolean): Promise<DecryptedEnvelope> => {
      const cards = (await this.cards(ctx, fresh)).filter((c) => SMCB_TYPES.includes(c.type) || HBA_TYPES.includes(c.type));
      if (cards.length === 0) throw new KonnektorError('card-not-found', `no SMC-B or HBA among the cards the Konnektor lists for Mandant ${ctx.mandantId}`);
      for (const card of cards) {
        for (const crypt of crypts) {
          const param = this.cryptParam('CertificateService', crypt);
          const der = await this.cardCertificate(ctx, card, 'C.ENC', param);
          if (!der) continue;
          const cert = parseRecipientCertificate(der);
          const wanted = req.recipientIds ?? outline.recipientEmails.map((r) => r.rid);
          if (wanted.length && !wanted.some((rid) => ridMatchesCertificate(rid, cert))) continue;
          const body = rq.decryptDocumentXml(ctx, card.handle, this.cryptParam('EncryptionService', crypt), req.document);
          const res = await this.call('EncryptionService', 'DecryptDocument', body, { timeoutMs: this.opts.signTimeoutMs });
          const data = path(res, 'Document', 'Base64Data');
          if (!data) throw malformed('DecryptDocument', 'no Document/Base64Data');
          return { ...outline, contentType: outline.contentType || ID_DATA, content: decode(data.text, 'DecryptDocument', 'Base64Data') };
        }
      }
      // KOM-LE-A_2062: the card the message is for is not there.
      throw new KonnektorError('key-not-available', `none of the ${cards.length} card(s) of Mandant ${ctx.mandantId} holds a certificate recipient-emails names for the fetching user`);
    };
    try {
      return await attempt(false);
    } catch (err) {
      if (!(err instanceof KonnektorFault) || !err.staleHandle) throw err;
      return attempt(true);
    }
  }

  /**
   * VerifyDocument's verdict is authoritative (the Konnektor checks against the TSL, revocation
   * included); our own verifySignedData, without trust anchors, reads the structure for the
   * content, signing time and signed recipient-emails, and keeps its per-check details where
   * they agree. VALID: every check passes. INVALID or INCONCLUSIVE: the chain check carries the
   * Konnektor's verdict (the part only it can judge, TSL and revocation), the others are ours.
   */
  async verifyDocument(ctx: KonnektorContext, req: VerifyDocumentRequest): Promise<SignedDataVerification> {
    const local = verifySignedData(req.document, { trustAnchors: [], at: req.at }); // structure errors are CmsErrors, before any call
    const sig = await this.svc('SignatureService');
    const res = await this.call('SignatureService', 'VerifyDocument', rq.verifyDocumentXml(ctx, sig.version, req.document));
    const verdict = path(res, 'VerificationResult', 'HighLevelResult')?.text.trim();
    if (verdict !== 'VALID' && verdict !== 'INVALID' && verdict !== 'INCONCLUSIVE') throw malformed('VerifyDocument', `HighLevelResult ${JSON.stringify(verdict ?? null)}`);
    const said = `Konnektor VerifyDocument: ${verdict}`;
    const checks = {} as Record<VerifyCheckName, CheckResult>;
    for (const name of VERIFY_CHECKS) {
      const mine = local.checks[name];
      if (verdict === 'VALID') checks[name] = { ok: true, detail: name === 'chain' ? said : mine.ok ? mine.detail : `${said} (here: ${mine.detail})` };
      else checks[name] = name === 'chain' ? { ok: false, detail: said } : mine;
    }
    const failed = VERIFY_CHECKS.filter((n) => !checks[n].ok);
    return { ...local, ok: failed.length === 0, failed, checks };
  }

  // ---- PIN and status (the admin status command) ----

  /** GetPinStatus of the context's SMC-B (PIN.SMC), or of a given card (PIN.CH for an HBA). */
  async pinStatus(ctx: KonnektorContext, card?: KonnektorCard): Promise<PinStatus> {
    const c = card ?? (await this.smcb(ctx));
    const res = await this.call('CardService', 'GetPinStatus', rq.getPinStatusXml(ctx, c.handle, pinTypOf(c)), { idempotent: true });
    const status = child(res, 'PinStatus')?.text.trim();
    if (!status) throw malformed('GetPinStatus', 'no PinStatus');
    const left = child(res, 'LeftTries')?.text.trim();
    return { status, ...(left ? { leftTries: Number(left) } : {}) };
  }

  /** VerifyPin: the PIN is typed at the card terminal; the answer comes when it was (signTimeoutMs). */
  async verifyPin(ctx: KonnektorContext, card?: KonnektorCard): Promise<{ result: string; leftTries?: number }> {
    const c = card ?? (await this.smcb(ctx));
    const res = await this.call('CardService', 'VerifyPin', rq.verifyPinXml(ctx, c.handle, pinTypOf(c)), { timeoutMs: this.opts.signTimeoutMs });
    const result = child(res, 'PinResult')?.text.trim();
    if (!result) throw malformed('VerifyPin', 'no PinResult');
    const left = child(res, 'LeftTries')?.text.trim();
    return { result, ...(left ? { leftTries: Number(left) } : {}) };
  }

  /** For the status report (status.ts): the context's SMC-B — handle, ICCSN and PIN status. */
  async cardInfo(ctx: KonnektorContext): Promise<{ handle: string; iccsn?: string; pinStatus?: string }> {
    await this.ready();
    const card = await this.smcb(ctx, true);
    const pin = await this.pinStatus(ctx, card).then((p) => p.status + (p.leftTries === undefined ? '' : ` (${p.leftTries} tries left)`), (err: unknown) => `unknown (${(err as Error).message})`);
    return { handle: card.handle, ...(card.iccsn ? { iccsn: card.iccsn } : {}), pinStatus: pin };
  }

  /** The services of connector.sds: name → version announced (and the WSDL version used, where it differs). */
  get serviceVersionMap(): Readonly<Record<string, string>> {
    const sds = this.directory();
    return Object.fromEntries(Object.values(sds.services).map((x) => [x.name, x.version === x.wsdlVersion ? x.version : `${x.version} (WSDL ${x.wsdlVersion})`]));
  }
}

function pinTypOf(card: KonnektorCard): rq.PinTyp {
  return HBA_TYPES.includes(card.type) ? 'PIN.CH' : 'PIN.SMC';
}

function malformed(operation: string, what: string): KonnektorError {
  return new KonnektorError('unavailable', `Konnektor ${operation}: malformed answer (${what})`);
}

function decode(text: string, operation: string, what: string): Uint8Array {
  try {
    const bytes = unb64(text, what);
    if (bytes.length === 0) throw new XmlError(`${what} is empty`);
    return bytes;
  } catch (err) {
    throw malformed(operation, (err as Error).message);
  }
}
