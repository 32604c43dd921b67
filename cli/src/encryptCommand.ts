/**
 * `sourced encrypt`: the daemon's EncryptSecret. The value comes from stdin (piped) or, on a
 * terminal, from a prompt that does not echo it; never from the command line, where it would
 * land in the shell's history and the process list. Prints the envelope to store.
 */
import { Metadata } from '@grpc/grpc-js';
import { SecretServiceClient, type EncryptSecretResponse } from '@sourced/api';
import { clientContext } from './client';
import { EXIT, UsageError } from './errors';
import type { EncryptOptions } from './options';

export async function runEncrypt(options: EncryptOptions): Promise<number> {
  const value = await readValue();
  const { address, channel, deadline, json, out } = clientContext(options);
  const client = new SecretServiceClient(address, channel);
  try {
    const response = await new Promise<EncryptSecretResponse>((resolve, reject) =>
      client.encryptSecret(
        {
          plaintext: value,
          context: { dataSourceId: options.dataSourceId, field: options.field },
          keyProvider: options.keyProvider ?? '',
          keyId: options.keyId ?? '',
        },
        new Metadata(),
        { deadline },
        (error, r) => (error ? reject(error) : resolve(r)),
      ),
    );
    if (json) out.line(JSON.stringify({ envelope: response.envelope, keyProvider: response.key?.keyProvider ?? '', keyId: response.key?.keyId ?? '' }));
    else out.line(response.envelope);
  } finally {
    out.close();
    client.close();
  }
  return EXIT.OK;
}

/** The value: all of stdin when it is not a terminal (one trailing newline dropped), else a prompt without echo. */
async function readValue(): Promise<string> {
  const stdin = process.stdin;
  let value: string;
  if (!stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const chunk of stdin) chunks.push(chunk as Buffer);
    value = Buffer.concat(chunks)
      .toString('utf8')
      .replace(/\r?\n$/, '');
  } else {
    value = await prompt('value to encrypt (not shown): ');
  }
  if (value === '') throw new UsageError('nothing to encrypt: pipe the value on stdin (printf %s "$VALUE" | sourced encrypt ...) or type it at the prompt');
  return value;
}

/** Reads one line from the terminal in raw mode, echoing nothing. Ctrl-C aborts. */
function prompt(question: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    // Echo goes off before the question shows, so nothing typed after it is ever echoed.
    stdin.setRawMode(true);
    process.stderr.write(question);
    stdin.resume();
    let text = '';
    const done = (error?: Error) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      process.stderr.write('\n');
      if (error) reject(error);
      else resolve(text);
    };
    const onData = (chunk: Buffer) => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n') {
          done();
          return;
        }
        if (ch === '\u0003') {
          done(new UsageError('interrupted'));
          return;
        }
        if (ch === '\u007f' || ch === '\b') text = text.slice(0, -1);
        else text += ch;
      }
    };
    stdin.on('data', onData);
  });
}
