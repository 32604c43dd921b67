/** `sourced audit verify FILE`: checks the hash chain (and with --key the signed checkpoints) of the daemon's audit log. */
import { AuditFileError, JsonLogger, loadPlugins, PluginRegistry, resolveSigningKey, SigningKeyError, verifyAuditLog } from '@sourced/daemon/parts';
import { UsageError } from './errors';

/** Exit codes of `sourced audit` (the same numbers as the rest of the CLI). */
export const AUDIT_EXIT = { INTACT: 0, TAMPERED: 1, BAD_INPUT: 2 } as const;

export interface AuditVerifyOptions {
  expectLast?: string;
  key?: string;
  allowUnsignedTail?: boolean;
  json?: boolean;
}

const NOTE =
  'note: this verifies the chain; removing lines from the end is only detectable against a hash recorded elsewhere (record the last hash; check later with --expect-last HASH)';

/** The signing key from a secret reference, through the built-in providers (env://, file://). */
async function signingKeyOf(reference: string): Promise<Buffer> {
  const registry = new PluginRegistry();
  const logger = new JsonLogger('error');
  await loadPlugins([], registry, logger);
  return resolveSigningKey(reference, registry.secretProviders(), logger);
}

/** Verifies FILE; returns the exit code. */
export async function runAuditVerify(file: string, values: AuditVerifyOptions): Promise<number> {
  const expectLast = values.expectLast;
  if (values.allowUnsignedTail && values.key === undefined) throw new UsageError('--allow-unsigned-tail goes with --key');
  let key: Buffer | undefined;
  let result: Awaited<ReturnType<typeof verifyAuditLog>>;
  try {
    key = values.key === undefined ? undefined : await signingKeyOf(values.key);
    result = await verifyAuditLog(file, { expectLast, key, allowUnsignedTail: values.allowUnsignedTail });
  } catch (error) {
    // An unreadable file or key: bad input, exit 2.
    if (error instanceof AuditFileError || error instanceof SigningKeyError) throw new UsageError(error.message);
    throw error;
  }
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ file, ...result })}\n`);
  } else if (result.ok) {
    process.stdout.write(`ok: ${result.lines.toLocaleString('en-US')} lines, chain intact, last hash ${result.lastHash}\n`);
    if (key) {
      const unsigned = result.lines - (result.signedThrough ?? 0);
      process.stdout.write(
        `signed: ${result.checkpoints.toLocaleString('en-US')} checkpoint${result.checkpoints === 1 ? '' : 's'} verified with the key${unsigned > 0 ? `; the last ${unsigned.toLocaleString('en-US')} line${unsigned === 1 ? ' is' : 's are'} not signed yet` : ', every line signed'}\n`,
      );
    } else if (result.checkpoints > 0) {
      process.stdout.write(
        `${result.checkpoints.toLocaleString('en-US')} signed checkpoint${result.checkpoints === 1 ? '' : 's'} not checked: pass --key REF (the daemon's audit.signingKey) to check them\n`,
      );
    }
    if (result.expected) {
      const { line, linesAfter } = result.expected;
      process.stdout.write(
        line === 0
          ? "the recorded hash is the empty chain's; every line was appended since\n"
          : `the recorded hash is line ${line.toLocaleString('en-US')}'s: nothing up to it was changed or removed; ${linesAfter.toLocaleString('en-US')} line${linesAfter === 1 ? ' was' : 's were'} appended since\n`,
      );
    } else {
      process.stdout.write(`${NOTE}\n`);
    }
  } else {
    process.stdout.write(`NOT intact: ${result.problem}\n`);
  }
  return result.ok ? AUDIT_EXIT.INTACT : AUDIT_EXIT.TAMPERED;
}
