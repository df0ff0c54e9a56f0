import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';

/**
 * Secrets the database must hold (a webhook agent's HMAC key) are kept sealed with AES-256-GCM:
 * `enc:v1:<key id>:<iv>:<tag>:<ciphertext>`, each part base64url. The key is derived from the
 * configured key text (database.secretKey, POSTAMT_SECRET_KEY or the generated dataDir/secret-key)
 * with HKDF; its id, a short hash of the derived key, tells a value sealed under another key from
 * a damaged one. Each value is bound to its purpose (e.g. `mailin_agents.secret`) as associated
 * data, so a sealed value copied into another column does not open there.
 */
export const SEALED_PREFIX = 'enc:v1:';

/** Shortest key text accepted: a generated key is 43 characters (32 random bytes, base64url). */
export const MIN_KEY_LENGTH = 32;

const IV_BYTES = 12;

export class SecretBoxError extends Error {
  override name = 'SecretBoxError';
}

export class SecretBox {
  /** A short, non-secret name of the key (8 characters): what the store records and sealed values carry. */
  readonly keyId: string;
  private readonly key: Buffer;

  constructor(keyText: string) {
    if (keyText.length < MIN_KEY_LENGTH) throw new SecretBoxError(`a secret key needs at least ${MIN_KEY_LENGTH} characters`);
    this.key = Buffer.from(hkdfSync('sha256', keyText, 'postamt stored secrets', 'aes-256-gcm v1', 32));
    this.keyId = createHash('sha256').update('postamt key id\0').update(this.key).digest('base64url').slice(0, 8);
  }

  /** A 43-character random key text, as written to dataDir/secret-key. */
  static generateKeyText(): string {
    return randomBytes(32).toString('base64url');
  }

  static isSealed(stored: string): boolean {
    return stored.startsWith(SEALED_PREFIX);
  }

  seal(plain: string, purpose: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv, { authTagLength: 16 });
    cipher.setAAD(Buffer.from(purpose));
    const ct = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return `${SEALED_PREFIX}${this.keyId}:${iv.toString('base64url')}:${cipher.getAuthTag().toString('base64url')}:${ct.toString('base64url')}`;
  }

  /**
   * The plain text of a sealed value. A value written in plain text by an older release (not
   * sealed yet: the store seals those when it opens) is returned as it is.
   */
  open(stored: string, purpose: string): string {
    if (!SecretBox.isSealed(stored)) return stored;
    const parts = stored.slice(SEALED_PREFIX.length).split(':');
    if (parts.length !== 4) throw new SecretBoxError(`a sealed ${purpose} is malformed`);
    const [keyId, iv, tag, ct] = parts as [string, string, string, string];
    if (keyId !== this.keyId) throw new SecretBoxError(`a sealed ${purpose} was sealed with key ${keyId}, this node's key is ${this.keyId}`);
    try {
      // The tag's length is fixed: GCM would accept a shortened one, which is easier to forge.
      const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64url'), { authTagLength: 16 });
      decipher.setAAD(Buffer.from(purpose));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]).toString('utf8');
    } catch {
      throw new SecretBoxError(`a sealed ${purpose} does not open with key ${this.keyId}: it was damaged or altered`);
    }
  }
}
