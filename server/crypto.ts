import { createHash, randomBytes } from 'node:crypto';

/**
 * A new bearer token: 32 bytes (256 bits) from the OS CSPRNG, base64url
 * without padding, so always 43 characters of [A-Za-z0-9_-].
 */
export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * The key a token is stored under: sha256 of the token, lowercase hex (64 chars).
 * Stores only ever see this, so a leaked store dump cannot be replayed as tokens.
 */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}
