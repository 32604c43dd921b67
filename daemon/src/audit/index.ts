export { AuditLog, AuditLogError, hostOnly } from './AuditLog';
export type { AuditEntry, AuditLogOptions, AuditTarget } from './AuditLog';
export {
  GENESIS,
  canonicalJson,
  checkpointMac,
  checkpointMacForm,
  checkpointVerifies,
  isCheckpoint,
  keyId,
  lineJson,
  outcomeOf,
  sealCheckpoint,
  sealLine,
  sha256Hex,
} from './lineFormat';
export type { AuditLine, CheckpointInfo, CheckpointLine, HashForm } from './lineFormat';
export { FailureAggregator } from './FailureAggregator';
export { resolveSigningKey, SigningKeyError } from './signingKey';
export { AuditFileError, verifyAuditLog } from './verifyAuditLog';
export type { VerifyOptions, VerifyResult } from './verifyAuditLog';
