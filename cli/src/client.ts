/**
 * What the client commands share once they run: the channel to the daemon (plaintext, or TLS with
 * --ca, --cert and --key), the deadline, the output (stdout or --output FILE) and Ctrl-C.
 */
import { credentials, type ChannelCredentials } from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import { EXIT, UsageError } from './errors';
import type { ClientOptions } from './options';
import { Output } from './output';

/** A client command's connection and output, from its flags. */
export interface ClientContext {
  address: string;
  channel: ChannelCredentials;
  /** When the call gives up (--timeout), or never. */
  deadline: number;
  json: boolean;
  out: Output;
}

/** Reads the TLS files and opens the output; the caller closes `out`. */
export function clientContext(options: ClientOptions): ClientContext {
  const channel = channelCredentials(options);
  return {
    address: options.address,
    channel,
    deadline: options.timeout ? Date.now() + options.timeout * 1000 : Infinity,
    json: options.json === true,
    out: Output.open({ file: options.output, noColor: !options.color }),
  };
}

/** Plaintext, or TLS with --ca (and --cert/--key for mutual TLS); commander has already put $SOURCED_CA, ... in place of a missing flag. */
function channelCredentials(options: ClientOptions): ChannelCredentials {
  const file = (flag: 'ca' | 'cert' | 'key') => {
    const path = options[flag];
    if (!path) return undefined;
    try {
      return readFileSync(path);
    } catch (error) {
      throw new UsageError(`--${flag}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
    }
  };
  const ca = file('ca');
  const cert = file('cert');
  const key = file('key');
  if ((cert === undefined) !== (key === undefined)) throw new UsageError('--cert and --key go together (a client certificate and its key)');
  if (!ca && !cert) return credentials.createInsecure();
  return credentials.createSsl(ca ?? null, key ?? null, cert ?? null);
}

/**
 * Ctrl-C during a call: erase the live lines (no half-drawn progress left on the terminal) and
 * cancel the call; the command then returns {@link interruptedExit}. A second Ctrl-C ends the process at once.
 */
export function interruptible(out: Output, call: { cancel(): void }) {
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
    process.off('SIGINT', onSignal);
    out.live.clear();
    out.progress.clear();
    call.cancel();
  };
  process.on('SIGINT', onSignal);
  return {
    get interrupted() {
      return interrupted;
    },
    dispose: () => process.off('SIGINT', onSignal),
  };
}

/** Exit code after Ctrl-C, as a shell reports a process that SIGINT ended. */
export function interruptedExit(): number {
  process.stderr.write('sourced: interrupted\n');
  return EXIT.INTERRUPTED;
}
