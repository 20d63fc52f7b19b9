/**
 * The shape of an encrypted event's `data` (the format is in encryption.ts and
 * docs/protocol.md, "Encrypted payloads"). Apart from encryption.ts so that
 * the registry can refuse data of this shape without loading the crypto code.
 */

/** The envelope's `$enc` value. */
export const ENVELOPE_VERSION = 1;

/** The `data` of an encrypted event on the wire. */
export interface EncryptedEnvelope {
  $enc: typeof ENVELOPE_VERSION;
  /** The key id. */
  kid: string;
  /** base64url of the 12-byte AES-GCM nonce, random per event. */
  iv: string;
  /** base64url of the ciphertext followed by the 16-byte tag. */
  ct: string;
}

/** True when `value` is exactly an envelope: `$enc: 1` and the string fields kid, iv, ct, nothing else. */
export function isEncryptedEnvelope(value: unknown): value is EncryptedEnvelope {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const v = value as Record<string, unknown>;
  if (v.$enc !== ENVELOPE_VERSION || typeof v.kid !== 'string' || typeof v.iv !== 'string' || typeof v.ct !== 'string') return false;
  let keys = 0;
  for (const _ in v) keys++;
  return keys === 4;
}
