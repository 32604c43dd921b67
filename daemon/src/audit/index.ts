export { AuditLog, AuditLogError, GENESIS, canonicalJson, checkpointMac, checkpointVerifies, hostOnly, isCheckpoint, keyId, outcomeOf, sealCheckpoint, sealLine, sha256Hex } from './AuditLog';
export type { AuditEntry, AuditLine, AuditLogOptions, AuditTarget, CheckpointInfo, CheckpointLine } from './AuditLog';
export { FailureAggregator } from './FailureAggregator';
export { resolveSigningKey, SigningKeyError } from './signingKey';
export { AuditFileError, verifyAuditLog } from './verifyAuditLog';
export type { VerifyOptions, VerifyResult } from './verifyAuditLog';
