/**
 * The exit codes of the `sourced` command-line client and the error a usage mistake raises.
 * Kept free of dependencies: `sourced --version` and `sourced COMMAND --help` load this file.
 */

/** Exit codes of the command-line client. */
export const EXIT = { OK: 0, VALIDATION_FAILED: 1, BAD_INPUT: 2, UNREACHABLE: 3, ERROR: 4, INTERRUPTED: 130 } as const;

/** The exit codes as the general help states them. */
export const EXIT_CODES =
  "Exit codes: 0 ok, 1 validation failed (a check failed), 2 bad input (usage, FILE, a field the daemon found INVALID_ARGUMENT), 3 daemon unreachable,\n4 other error (PERMISSION_DENIED: a secret reference, file or host the daemon's policy refuses; NOT_FOUND; UNAVAILABLE: a source it cannot reach; ...).";

/** Bad input found after parsing (two flags that go together, a file that cannot be read, a bad configuration): exit 2. */
export class UsageError extends Error {}

/** The data source file cannot be read or holds no data source object. */
export class DataSourceFileError extends UsageError {}

/** --output cannot be opened. */
export class OutputFileError extends UsageError {}
