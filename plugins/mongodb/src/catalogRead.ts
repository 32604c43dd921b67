/**
 * What every catalog command of discovery shares: the limits sent with it (`maxTimeMS`, the
 * scope), relaxed Extended JSON for the documents the entities carry, and {@link read}, which
 * turns a command's failure into a semantic error.
 */
import { AbortedError, abortedErrorFrom, describeError, SourcedError, UnavailableError } from '@sourced/core';
import { BSON } from 'mongodb';
import { ErrorCode, isConnectionError, serverCode } from './mongoErrors';

/** A document or value as relaxed Extended JSON, as the entities carry them. */
export const toJson = (value: unknown): string => BSON.EJSON.stringify(value, { relaxed: true });

/**
 * Server-side limits of the catalog commands, `maxTimeMS` of each command (the strategy's
 * statement time limit; undefined sends none), and their scope: `database`, the data source's
 * (the endpoint's `database`). With one named, the catalog is that database only; with none,
 * every database the user may list but MongoDB's own (unless the filter includes them).
 */
export interface CatalogLimits {
  maxTimeMS?: number;
  database?: string;
}

/** The `maxTimeMS` field of a command document, when there is a limit. */
export const timeLimit = (limits: CatalogLimits): { maxTimeMS?: number } =>
  limits.maxTimeMS !== undefined && limits.maxTimeMS > 0 ? { maxTimeMS: limits.maxTimeMS } : {};

/** Server error codes a caller handles itself. */
export const codes =
  (...handled: number[]) =>
  (code: number) =>
    handled.includes(code);

/**
 * Runs one catalog read and turns its failure into a semantic error: cancellation as
 * `AbortedError`, a lost connection as `UnavailableError` (CONNECTION_LOST, so the engine
 * may fail over), the statement time limit as CATALOG_READ_TIMEOUT, anything else as
 * CATALOG_READ_FAILED with the server's code. Other
 * server errors that `handled` accepts pass through unchanged, for the caller to handle.
 */
export async function read<T>(what: string, signal: AbortSignal, run: () => Promise<T>, handled: (code: number) => boolean = () => false): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (signal.aborted) throw abortedErrorFrom(signal);
    if (error instanceof AbortedError || error instanceof SourcedError) throw error;
    const code = serverCode(error);
    const metadata: Record<string, string> = { step: what };
    if (code !== undefined) metadata.code = String(code);
    if (isConnectionError(error)) {
      throw new UnavailableError('CONNECTION_LOST', `the connection to MongoDB was lost while reading ${what}: ${describeError(error)}`, {
        cause: error,
        metadata,
      });
    }
    if (code !== undefined && handled(code)) throw error;
    if (code === ErrorCode.MaxTimeMSExpired) {
      throw new SourcedError('CATALOG_READ_TIMEOUT', `reading ${what} from MongoDB took longer than the statement time limit: ${describeError(error)}`, {
        cause: error,
        metadata,
      });
    }
    throw new SourcedError(
      'CATALOG_READ_FAILED',
      `reading ${what} from MongoDB failed: ${describeError(error)}${code !== undefined ? ` (code ${code})` : ''}`,
      { cause: error, metadata },
    );
  }
}
