/**
 * AES-256-GCM for secrets at rest: a random 12-byte IV per value, the 16-byte tag stored beside it, and
 * associated data binding the ciphertext to its team and name, so a row copied onto another secret (or
 * another team) fails to decrypt instead of leaking a value where it does not belong.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { SlipwayError } from '../../shared/errors';

export interface Sealed {
  iv: Buffer;
  tag: Buffer;
  ciphertext: Buffer;
}

function checkKey(key: Buffer): void {
  if (key.length !== 32) throw new SlipwayError('internal', 'master key must be 32 bytes');
}

/** Encrypts a value under the master key; `aad` is authenticated but not stored. */
export function seal(key: Buffer, plaintext: string, aad: string): Sealed {
  checkKey(key);
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return { iv, tag: cipher.getAuthTag(), ciphertext };
}

/**
 * Decrypts and authenticates. Throws internal (without the value or key in the message) when the data,
 * tag, IV, aad or key do not match, e.g. after tampering or with a different master key.
 */
export function open(key: Buffer, sealed: Sealed, aad: string): string {
  checkKey(key);
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, sealed.iv);
    decipher.setAAD(Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(sealed.tag);
    return Buffer.concat([decipher.update(sealed.ciphertext), decipher.final()]).toString('utf8');
  } catch (cause) {
    throw new SlipwayError('internal', `secret '${aad}' cannot be decrypted (tampered, or a different master key)`, { cause });
  }
}
