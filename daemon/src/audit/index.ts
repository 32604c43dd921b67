export { AuditLog, AuditLogError, GENESIS, canonicalJson, hostOnly, outcomeOf, sealLine, sha256Hex } from './AuditLog';
export type { AuditEntry, AuditLine, AuditLogOptions, AuditTarget } from './AuditLog';
export { AuditFileError, verifyAuditLog } from './verifyAuditLog';
export type { VerifyOptions, VerifyResult } from './verifyAuditLog';
