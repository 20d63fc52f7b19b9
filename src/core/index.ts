export * from './errors.ts';
export * from './event.ts';
export * from './aggregate.ts';
export * from './projection.ts';
export * from './reaction.ts';
export * from './registry.ts';
export * from './json-data.ts';
export * from './ids.ts';
export * from './schemas.ts';
export * from './text-rules.ts';
export * from './protocol.ts';
export { compareCursor, sameCursor, type LogCursor, type LogEnd } from './cursor.ts';
export type {
  EncryptedEnvelope,
  EncryptionOptions,
  EncryptionSettings,
  KeyMaterial,
  Keyring,
  SealedPayload,
  WebCryptoKey,
} from './encryption.ts';
export { checkRetention, type RetentionOptions, type Blocker as CompactionBlocker } from './compaction.ts';
