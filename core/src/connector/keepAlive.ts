/**
 * Idle time before TCP keep-alive's first probe on a connection that has it, ms. The kernel's
 * default (2 hours) would notice a dead link long after any caller gave up.
 */
export const KEEPALIVE_IDLE_MS = 10_000;
