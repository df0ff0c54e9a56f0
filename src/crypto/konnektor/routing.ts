import type { CardInfoSource } from './status.js';
import type { CertRef, Crypt, DecryptDocumentRequest, EncryptDocumentRequest, ExternalAuthenticateRequest, Konnektor, KonnektorContext, SignDocumentRequest, VerifyDocumentRequest } from './types.js';

/**
 * Several Konnektors behind one: a client module serving practices that each have their own
 * Konnektor (`konnektor.soap.perMandant`). Every call goes to the Konnektor of its context's
 * Mandant, else to the default one. What belongs to one Konnektor — its product line for
 * X-KIM-KONVersion, whether it can do ECC (A_17464) — is asked of `forContext(ctx)`; the
 * properties without a context are the default Konnektor's.
 */
export class RoutingKonnektor implements Konnektor, CardInfoSource {
  constructor(
    private readonly fallback: Konnektor & CardInfoSource,
    private readonly byMandant: ReadonlyMap<string, Konnektor & CardInfoSource>,
  ) {}

  forContext(ctx: KonnektorContext): Konnektor & CardInfoSource {
    return this.byMandant.get(ctx.mandantId) ?? this.fallback;
  }

  get productInfo(): string {
    return this.fallback.productInfo;
  }

  get eccCapable(): boolean {
    return this.fallback.eccCapable;
  }

  get serviceVersionMap(): Readonly<Record<string, string>> | undefined {
    return this.fallback.serviceVersionMap;
  }

  readCardCertificate(ctx: KonnektorContext, certRef: CertRef, crypt?: Crypt): Promise<Uint8Array> {
    return this.forContext(ctx).readCardCertificate(ctx, certRef, crypt);
  }

  signDocument(ctx: KonnektorContext, req: SignDocumentRequest) {
    return this.forContext(ctx).signDocument(ctx, req);
  }

  externalAuthenticate(ctx: KonnektorContext, req: ExternalAuthenticateRequest) {
    return this.forContext(ctx).externalAuthenticate(ctx, req);
  }

  encryptDocument(ctx: KonnektorContext, req: EncryptDocumentRequest) {
    return this.forContext(ctx).encryptDocument(ctx, req);
  }

  decryptDocument(ctx: KonnektorContext, req: DecryptDocumentRequest) {
    return this.forContext(ctx).decryptDocument(ctx, req);
  }

  verifyDocument(ctx: KonnektorContext, req: VerifyDocumentRequest) {
    return this.forContext(ctx).verifyDocument(ctx, req);
  }

  async cardInfo(ctx: KonnektorContext): Promise<{ handle?: string; iccsn?: string; pinStatus?: string }> {
    const k = this.forContext(ctx);
    return k.cardInfo ? k.cardInfo(ctx) : {};
  }

  /** Every Konnektor's service directory; the first failure is reported (the others are still read). */
  async ready(): Promise<void> {
    const results = await Promise.allSettled(this.all().map((k) => k.ready?.()));
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.all().map((k) => k.close?.()));
  }

  private all(): Array<Konnektor & CardInfoSource> {
    return [this.fallback, ...new Set(this.byMandant.values())];
  }
}

/** The Konnektor that serves this context: the routed one, or `k` itself. */
export function konnektorFor(k: Konnektor, ctx: KonnektorContext): Konnektor {
  return k.forContext?.(ctx) ?? k;
}
