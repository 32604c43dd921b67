/**
 * Where audit lines go: a file opened for append (its chain's last line read back, so a
 * restarted daemon continues the chain) or a stream such as stdout.
 */
import { open as openFile, type FileHandle } from 'node:fs/promises';
import { GENESIS, type AuditLine } from './lineFormat';

/** Thrown by AuditLog.open when the target cannot be used. */
export class AuditLogError extends Error {
  override name = 'AuditLogError';
}

/** How far back open() looks for the start of the file's last line before giving up. */
const MAX_TAIL_BYTES = 1 << 20;
const TAIL_CHUNK = 16 * 1024;

export interface Sink {
  write(chunk: string): Promise<void>;
  close(): Promise<void>;
  describe: string;
}

/** Opens a file for append and reads where its chain stands from the end of the file. */
export async function openAuditFile(path: string): Promise<{ handle: FileHandle; seq: number; prev: string; last?: unknown }> {
  let handle: FileHandle;
  try {
    handle = await openFile(path, 'a+', 0o600);
  } catch (error) {
    throw new AuditLogError(`cannot open the audit log ${path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  try {
    const stat = await handle.stat();
    // A device or pipe (e.g. /dev/stdout) has no lines to continue from.
    if (!stat.isFile() || stat.size === 0) return { handle, seq: 0, prev: GENESIS };
    const last = await readLastLine(handle, stat.size, path);
    const problem = `the audit log ${path} does not end with a complete audit line`;
    // The file's last line: JSON, but maybe not an object (`null`, a number).
    let parsed: Partial<AuditLine> | null;
    try {
      parsed = JSON.parse(last) as Partial<AuditLine> | null;
    } catch {
      throw new AuditLogError(`${problem} (its last line is not JSON): check it with \`sourced audit verify ${path}\` and move it aside`);
    }
    if (!parsed || typeof parsed.hash !== 'string' || !/^[0-9a-f]{64}$/.test(parsed.hash) || !Number.isSafeInteger(parsed.seq) || (parsed.seq as number) < 1) {
      throw new AuditLogError(`${problem} (its last line has no valid seq and hash): check it with \`sourced audit verify ${path}\` and move it aside`);
    }
    return { handle, seq: parsed.seq as number, prev: parsed.hash, last: parsed };
  } catch (error) {
    await handle.close().catch(() => undefined);
    throw error instanceof AuditLogError ? error : new AuditLogError(`cannot read the audit log ${path}: ${(error as Error).message}`);
  }
}

/** The file's last line (which must end with "\n"), read backwards in chunks. */
async function readLastLine(handle: FileHandle, size: number, path: string): Promise<string> {
  const end = Buffer.alloc(1);
  await handle.read(end, 0, 1, size - 1);
  if (end[0] !== 0x0a) {
    throw new AuditLogError(
      `the audit log ${path} does not end with a complete audit line (no newline at its end: a write was cut short?): check it with \`sourced audit verify ${path}\` and move it aside`,
    );
  }
  const lineEnd = size - 1; // the final "\n"
  let start = lineEnd;
  let tail = Buffer.alloc(0);
  while (start > 0) {
    const from = Math.max(0, start - TAIL_CHUNK);
    const chunk = Buffer.alloc(start - from);
    const { bytesRead } = await handle.read(chunk, 0, chunk.length, from);
    tail = Buffer.concat([chunk.subarray(0, bytesRead), tail]);
    start = from;
    const nl = tail.lastIndexOf(0x0a, tail.length - 1);
    if (nl >= 0) return tail.subarray(nl + 1).toString('utf8');
    if (tail.length > MAX_TAIL_BYTES) throw new AuditLogError(`the audit log ${path} does not end with an audit line (its last line is over 1 MiB)`);
  }
  return tail.toString('utf8');
}

export function fileSink(handle: FileHandle, path: string): Sink {
  // After a write that failed part-way, the next one starts on a fresh line, so the torn line
  // stays a line of its own (verify reports it) instead of swallowing the next one.
  let torn = false;
  return {
    describe: path,
    async write(chunk) {
      let buffer = Buffer.from(torn ? `\n${chunk}` : chunk, 'utf8');
      let wroteAny = false;
      try {
        while (buffer.length > 0) {
          const { bytesWritten } = await handle.write(buffer, 0, buffer.length, null);
          if (bytesWritten > 0) wroteAny = true;
          buffer = buffer.subarray(bytesWritten);
        }
        torn = false;
      } catch (error) {
        if (wroteAny) torn = true;
        throw error;
      }
    },
    close: () => handle.close(),
  };
}

export function streamSink(stream: NodeJS.WritableStream, describe: string): Sink {
  let failure: Error | undefined;
  const onStreamError = (error: Error) => {
    failure = error;
  };
  stream.on('error', onStreamError);
  return {
    describe,
    write: (chunk) =>
      new Promise<void>((resolve, reject) => {
        if (failure) {
          reject(failure);
          return;
        }
        stream.write(chunk, (error?: Error | null) => {
          if (error) reject(error);
          else resolve();
        });
      }),
    close() {
      stream.off('error', onStreamError);
      return Promise.resolve();
    },
  };
}
