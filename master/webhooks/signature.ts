/**
 * Credential checks of webhook deliveries, all constant time: plain tokens (GitLab X-Gitlab-Token, generic
 * Bearer) and HMAC-SHA256 signatures over the exact raw body (GitHub X-Hub-Signature-256 `sha256=<hex>`,
 * Gitea X-Gitea-Signature `<hex>`). Jenkins plugins shipped advisories for plain `===` comparisons.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Constant-time equality of two strings of any length: both are hashed to 32-byte digests first, so
 * timingSafeEqual always compares equal lengths and the time does not reveal the expected length either.
 */
export function safeEqual(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b) && given.length === expected.length;
}

export function hmacSha256Hex(secret: string, body: Buffer): string {
  return createHmac('sha256', secret).update(body).digest('hex');
}

/** GitHub: header `sha256=<64 hex>` = HMAC-SHA256(secret, raw body). A missing or malformed header fails. */
export function verifyGithubSignature(header: string | undefined, body: Buffer, secret: string): boolean {
  if (!header || !/^sha256=[0-9a-fA-F]{64}$/.test(header)) return false;
  return safeEqual(header.slice(7).toLowerCase(), hmacSha256Hex(secret, body));
}

/** Gitea: header `<64 hex>` = HMAC-SHA256(secret, raw body). */
export function verifyGiteaSignature(header: string | undefined, body: Buffer, secret: string): boolean {
  if (!header || !/^[0-9a-fA-F]{64}$/.test(header)) return false;
  return safeEqual(header.toLowerCase(), hmacSha256Hex(secret, body));
}

/** GitLab token / generic bearer token: the header value must equal the secret. Empty never matches. */
export function verifyToken(given: string | undefined, secret: string): boolean {
  return !!given && safeEqual(given, secret);
}
