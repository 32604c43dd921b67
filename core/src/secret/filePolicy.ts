import { constants } from 'node:fs';
import { open, realpath } from 'node:fs/promises';
import { NotAllowedError, NotFoundError } from '../errors';
import { SecretErrorReason } from './SecretProvider';

/** Folders the daemon never reads, whatever the policy allows: the process and device views of the host. */
export const NEVER_READABLE = ['/proc', '/sys', '/dev'] as const;

/** Largest file read as a secret or PEM setting. */
export const MAX_SECRET_FILE_BYTES = 1024 * 1024;

/**
 * Why a path is not in the one form the policy matches: absolute, `/`-separated, with no
 * `.`, `..` or empty segment, no percent escape, backslash or control character. Undefined
 * when it is. Paths are refused rather than rewritten, so that what a caller wrote is what
 * the policy matched and what is opened.
 */
export function pathFormProblem(path: string): string | undefined {
  if (!path.startsWith('/')) return 'is not an absolute path';
  // eslint-disable-next-line no-control-regex
  if (/[%\\\u0000-\u001f\u007f]/.test(path)) return 'holds a percent escape, a backslash or a control character';
  const segments = path.slice(1).split('/');
  if (segments.some((s) => s === '' || s === '.' || s === '..')) return "has an empty, '.' or '..' segment";
  return undefined;
}

/** Whether a path (already in normal form) is in or under /proc, /sys or /dev. */
export function isNeverReadable(path: string): boolean {
  return NEVER_READABLE.some((root) => path === root || path.startsWith(`${root}/`));
}

/**
 * The one error for a file the daemon will not read: the same status, reason and message
 * whether the file is missing, a directory, a link that leads outside the allowed folders,
 * unreadable or too large, so that an answer never tells whether a path exists. It is the
 * provider contract's "not found" (`SECRET_NOT_FOUND`): to a caller, every refused file is
 * one that is not there.
 */
export function fileRefused(what: string): NotFoundError {
  return new NotFoundError(
    SecretErrorReason.NOT_FOUND,
    `${what} was not read: the daemon reads only readable regular files whose real path (links followed) its secret policy allows, never under /proc, /sys or /dev`,
  );
}

/**
 * The real path of a file the policy lets the daemon read: every link followed, allowed by
 * `permits` (as a `file://` reference) and outside /proc, /sys and /dev. Any refusal or
 * failure is {@link fileRefused}, the same for every cause; an abort rethrows the signal's reason.
 */
export async function policedRealPath(path: string, what: string, permits: (reference: string) => boolean, signal: AbortSignal): Promise<string> {
  try {
    if (pathFormProblem(path) !== undefined || isNeverReadable(path)) throw fileRefused(what);
    const real = await realpath(path);
    if (isNeverReadable(real) || !permits(`file://${real}`)) throw fileRefused(what);
    return real;
  } catch (error) {
    if (signal.aborted) throw signal.reason;
    throw fileRefused(what);
  }
}

/**
 * Reads a file under the file policy ({@link policedRealPath}): a regular file of at most
 * {@link MAX_SECRET_FILE_BYTES}. Any refusal or failure is {@link fileRefused}.
 */
export async function readPolicedFile(path: string, what: string, permits: (reference: string) => boolean, signal: AbortSignal): Promise<string> {
  const real = await policedRealPath(path, what, permits, signal);
  try {
    // O_NOFOLLOW: the last component cannot have become a link since realpath; O_NONBLOCK: a FIFO does not hang the open.
    const handle = await open(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    try {
      const stat = await handle.stat();
      if (!stat.isFile() || stat.size > MAX_SECRET_FILE_BYTES) throw fileRefused(what);
      return await handle.readFile({ encoding: 'utf8', signal });
    } finally {
      await handle.close();
    }
  } catch (error) {
    if (signal.aborted) throw signal.reason;
    throw fileRefused(what);
  }
}

/** The fix for a TLS file the daemon did not read, whatever the cause (the caller's, or the operator's). */
export const FILE_SETTING_HINT =
  "The file is read on the daemon's host: check there that it exists and is a readable regular file, and that its real path is in a folder a file:// pattern of the daemon's secrets.allowedReferences allows (the operator's setting).";

/**
 * The one error for a file a TLS setting names (`ssl_config.ca`, `cert`, or a key given as a
 * path) that the daemon will not read: the same for a path the policy refuses, one that is
 * missing, a directory, a link out of the allowed folders, or under /proc, /sys or /dev, so it
 * never tells whether a path exists. `PERMISSION_DENIED` (exit 4 in the CLI) when it ends a
 * call; a failed `resolve-credentials` check (exit 1) in a validation whose policy check
 * passed. Its hint ({@link FILE_SETTING_HINT}) covers every cause.
 */
export function fileSettingRefused(field: string): NotAllowedError {
  return new NotAllowedError(
    'SSL_PATH_NOT_ALLOWED',
    `${field}: the daemon did not read this path: it reads a TLS file only when it is a readable regular file whose real path (links followed) its secret policy allows (file:// patterns in secrets.allowedReferences; none by default), never under /proc, /sys or /dev. Give the PEM text inline, or a secret reference`,
    { metadata: { field, hint: FILE_SETTING_HINT } },
  );
}
