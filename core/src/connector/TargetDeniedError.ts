import { NotAllowedError, brandErrorClass } from '../errors';

/** A connection the policy refused. Maps to PERMISSION_DENIED; `code` is set for drivers that report socket errors by code. */
export class TargetDeniedError extends NotAllowedError {
  /** Always `ETARGETDENIED`, for drivers that classify socket errors by `code`. */
  readonly code = 'ETARGETDENIED';
  constructor(
    /** The host as the connector named it. */
    readonly host: string,
    /** The address that was refused; undefined when the name itself was denied. */
    readonly address: string | undefined,
    /** The rule that refused it: a `targets.deny` entry, a built-in denied block, or `targets.allow` when no allowed target matched. */
    readonly rule: string,
    message: string,
  ) {
    super('TARGET_DENIED', message, { metadata: { host, ...(address ? { address } : {}), rule } });
  }
}
brandErrorClass(TargetDeniedError, 'TargetDeniedError');
