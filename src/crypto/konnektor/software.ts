import {
  CmsError,
  decryptAuthEnveloped,
  parseRecipientCertificate,
  ridMatchesCertificate,
  encryptAuthEnveloped,
  signData,
  verifySignedData,
  type DecryptedEnvelope,
  type SignedDataVerification,
} from '../cms/index.js';
import { cryptOf, type CardLoader, type SoftwareCard } from './card.js';
import { eccCapable, type KonnektorServiceVersions } from './ecc-capability.js';
import { KonnektorError } from './errors.js';
import { CryptoWorkerPool } from './worker-pool.js';
import { signDigest } from './external-auth.js';
import type { CertRef, Crypt, DecryptDocumentRequest, ExternalAuthenticateRequest, EncryptDocumentRequest, Konnektor, KonnektorContext, SignDocumentRequest, VerifyDocumentRequest } from './types.js';

/** One practice (Mandant) of the software Konnektor and who may use its cards. */
export interface SoftwareMandant {
  readonly id: string;
  /** ClientSystemIds allowed to call for this Mandant. */
  readonly clientSystems: readonly string[];
  /** WorkplaceIds allowed; `*` allows every workplace. */
  readonly workplaces: readonly string[];
  /** The practice's SMC-B. */
  readonly smcb?: CardLoader;
  /** Doctors' HBAs by UserId (a call with a UserId uses that HBA, never the SMC-B). */
  readonly hba?: Readonly<Record<string, CardLoader>>;
}

export interface SoftwareKonnektorOptions {
  readonly mandanten: readonly SoftwareMandant[];
  /** Certificates VerifyDocument trusts (the software stand-in for the TSL), DER. */
  readonly trustAnchors: readonly Uint8Array[];
  readonly productInfo?: string;
  /**
   * The service versions it reports (what a real Konnektor's connector.sds lists); they decide
   * `eccCapable` (A_17464). Default: SignatureService 7.5.5 and EncryptionService 6.1.1, ECC capable.
   */
  readonly serviceVersions?: KonnektorServiceVersions;
  /**
   * Worker threads for SignDocument and EncryptDocument (`konnektor.workers`); 0 or absent: in
   * the calling thread. The context checks and card loading stay in the calling thread.
   */
  readonly workers?: number;
}

/** What the software Konnektor reports by default: services new enough for ECC (A_17464). */
export const SOFTWARE_SERVICE_VERSIONS: KonnektorServiceVersions = { signatureService: '7.5.5', encryptionService: '6.1.1' };

/** X-KIM-KONVersion (A_21388-01): <Productname><ProductType><ProductTypeVersion><HWVersion><FWVersion>. */
export const SOFTWARE_KONNEKTOR_INFO = '<Postamt Software-Konnektor 0.1.0><Konnektor><0.1.0><0.0.0><0.1.0>';

/**
 * The Konnektor in software: keys from files per Mandant, for tests, demos and setups without
 * card terminals. It enforces the same context rules a real Konnektor's info model does
 * (Mandant known, ClientSystem registered for it, Workplace allowed) before touching a card.
 */
export class SoftwareKonnektor implements Konnektor {
  readonly productInfo: string;
  readonly eccCapable: boolean;
  readonly serviceVersions: KonnektorServiceVersions;
  private readonly mandanten: ReadonlyMap<string, SoftwareMandant>;
  private readonly cards = new Map<CardLoader, Promise<SoftwareCard>>();
  private readonly pool: CryptoWorkerPool | null;

  constructor(private readonly opts: SoftwareKonnektorOptions) {
    this.productInfo = opts.productInfo ?? SOFTWARE_KONNEKTOR_INFO;
    this.serviceVersions = opts.serviceVersions ?? SOFTWARE_SERVICE_VERSIONS;
    this.eccCapable = eccCapable(this.serviceVersions);
    this.mandanten = new Map(opts.mandanten.map((m) => [m.id, m]));
    this.pool = opts.workers ? new CryptoWorkerPool(opts.workers) : null;
  }

  /** The versions it reports, by service name (for the status report). */
  get serviceVersionMap(): Readonly<Record<string, string>> {
    return { SignatureService: this.serviceVersions.signatureService, EncryptionService: this.serviceVersions.encryptionService };
  }

  /** Stops the worker threads (if any); later signing and encryption fail with `unavailable`. */
  async close(): Promise<void> {
    await this.pool?.close();
  }

  async readCardCertificate(ctx: KonnektorContext, certRef: CertRef, crypt: Crypt = 'RSA'): Promise<Uint8Array> {
    const card = await this.card(ctx);
    this.allowed(crypt);
    const sig = crypt === 'ECC' ? card.signatureEcc : card.signature;
    if (certRef === 'C.SIG' && sig) return sig.certDer;
    const enc = card.encryption.find((k) => cryptOf(k) === crypt);
    if (certRef === 'C.ENC' && enc) return enc.certDer;
    if (certRef === 'C.AUT' && crypt === 'RSA' && card.authentication) return card.authentication.certDer;
    throw new KonnektorError('key-not-available', `the card of Mandant ${ctx.mandantId} holds no ${certRef} ${crypt} certificate`);
  }

  async signDocument(ctx: KonnektorContext, req: SignDocumentRequest): Promise<Uint8Array> {
    const card = await this.card(ctx);
    const crypt = req.crypt ?? 'RSA';
    this.allowed(crypt);
    const key = crypt === 'ECC' ? card.signatureEcc : card.signature;
    if (!key) throw new KonnektorError('key-not-available', `the card of Mandant ${ctx.mandantId} holds no ${crypt} signature key`);
    const opts = { scheme: req.scheme ?? 'pss', recipientEmails: req.recipientEmails, signingTime: req.signingTime } as const;
    if (this.pool) return this.pool.sign(req.content, key, opts, req.handOver);
    return signData(req.content, key, opts);
  }

  async externalAuthenticate(ctx: KonnektorContext, req: ExternalAuthenticateRequest): Promise<Uint8Array> {
    const card = await this.card(ctx);
    if (!card.authentication) throw new KonnektorError('key-not-available', `the card of Mandant ${ctx.mandantId} holds no C.AUT key`);
    return signDigest(card.authentication.privateKey, req.hash, req.scheme);
  }

  /** A Konnektor below the ECC versions knows no ECC keys (A_17464): it answers as the old one would. */
  private allowed(crypt: Crypt): void {
    if (crypt === 'ECC' && !this.eccCapable) throw new KonnektorError('key-not-available', `this Konnektor's services (SignatureService ${this.serviceVersions.signatureService}, EncryptionService ${this.serviceVersions.encryptionService}) do not offer ECC`);
  }

  async encryptDocument(ctx: KonnektorContext, req: EncryptDocumentRequest): Promise<Uint8Array> {
    this.mandant(ctx);
    if (this.pool) return this.pool.encrypt(req.content, req.recipients, req.handOver);
    return encryptAuthEnveloped(req.content, req.recipients);
  }

  async decryptDocument(ctx: KonnektorContext, req: DecryptDocumentRequest): Promise<DecryptedEnvelope> {
    const card = await this.card(ctx);
    if (card.encryption.length === 0) throw new KonnektorError('key-not-available', `the card of Mandant ${ctx.mandantId} holds no encryption key`);
    const allowed = req.recipientIds;
    // A card decrypts with either of its keys (KeyReference C.ENC_RSA or C.ENC_ECC); ECC only where the Konnektor can.
    const usable = this.eccCapable ? card.encryption : card.encryption.filter((k) => cryptOf(k) === 'RSA');
    const keys = allowed ? usable.filter((k) => allowed.some((rid) => ridMatchesCertificate(rid, parseRecipientCertificate(k.certDer)))) : usable;
    if (keys.length === 0) {
      throw new KonnektorError('key-not-available', `the card of Mandant ${ctx.mandantId} holds none of the keys recipient-emails names for the fetching user`);
    }
    let last: unknown;
    for (const key of keys) {
      try {
        return decryptAuthEnveloped(req.document, key);
      } catch (err) {
        // Another of our certificates may be the one the sender used; anything else is final.
        if (!(err instanceof CmsError) || err.code !== 'no-recipient') throw err;
        last = err;
      }
    }
    throw last;
  }

  async verifyDocument(ctx: KonnektorContext, req: VerifyDocumentRequest): Promise<SignedDataVerification> {
    this.mandant(ctx);
    return verifySignedData(req.document, { trustAnchors: this.opts.trustAnchors, at: req.at });
  }

  /** Only the context checks (unknown-mandant, -client-system, -workplace), for callers that need no card (the Konnektor simulator's GetCards). */
  checkContext(ctx: KonnektorContext): void {
    this.mandant(ctx);
  }

  /** The Mandant after the context checks, in the order a real Konnektor makes them. */
  private mandant(ctx: KonnektorContext): SoftwareMandant {
    const m = this.mandanten.get(ctx.mandantId);
    if (!m) throw new KonnektorError('unknown-mandant', `unknown Mandant ${JSON.stringify(ctx.mandantId)}`);
    if (!m.clientSystems.includes(ctx.clientSystemId)) {
      throw new KonnektorError('unknown-client-system', `ClientSystem ${JSON.stringify(ctx.clientSystemId)} is not registered for Mandant ${m.id}`);
    }
    if (!m.workplaces.includes('*') && !m.workplaces.includes(ctx.workplaceId)) {
      throw new KonnektorError('unknown-workplace', `Workplace ${JSON.stringify(ctx.workplaceId)} is not allowed for Mandant ${m.id}`);
    }
    return m;
  }

  private async card(ctx: KonnektorContext): Promise<SoftwareCard> {
    const m = this.mandant(ctx);
    const loader = ctx.userId ? m.hba?.[ctx.userId] : m.smcb;
    if (!loader) {
      throw new KonnektorError('card-not-found', ctx.userId ? `no HBA for UserId ${JSON.stringify(ctx.userId)} at Mandant ${m.id}` : `no SMC-B for Mandant ${m.id}`);
    }
    let pending = this.cards.get(loader);
    if (!pending) {
      pending = loader();
      this.cards.set(loader, pending);
      // A failed load is not remembered: the next call reads the files again (fixed password, card inserted).
      pending.catch(() => this.cards.delete(loader));
    }
    try {
      return await pending;
    } catch (err) {
      if (err instanceof KonnektorError) throw err;
      throw new KonnektorError('card-not-found', `card of Mandant ${m.id} cannot be loaded: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  }
}
