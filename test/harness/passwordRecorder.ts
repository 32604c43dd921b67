import { createServer, type Server, type Socket } from 'node:net';

/** A stand-in PostgreSQL server that asks for a cleartext password and records what arrives. */
export interface PasswordRecorder {
  host: string;
  port: number;
  /** Every password a client sent, in order. */
  passwords: string[];
  close(): Promise<void>;
}

const SSL_REQUEST = 80877103;
const GSS_REQUEST = 80877104;

/**
 * Speaks just enough of the PostgreSQL wire protocol for a client to send its password: it
 * refuses SSL and GSS encryption (`N`), answers the startup message with
 * AuthenticationCleartextPassword, records the PasswordMessage and fails the login
 * (28P01). What a daemon sent as the password is then plain to see.
 */
export async function startPasswordRecorder(): Promise<PasswordRecorder> {
  const passwords: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let buffer = Buffer.alloc(0);
    let started = false;
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        if (!started) {
          if (buffer.length < 8) return;
          const length = buffer.readInt32BE(0);
          if (buffer.length < length) return;
          const code = buffer.readInt32BE(4);
          buffer = buffer.subarray(length);
          if (code === SSL_REQUEST || code === GSS_REQUEST) {
            socket.write('N');
            continue;
          }
          started = true;
          const ask = Buffer.alloc(9);
          ask.write('R', 0);
          ask.writeInt32BE(8, 1);
          ask.writeInt32BE(3, 5); // AuthenticationCleartextPassword
          socket.write(ask);
          continue;
        }
        if (buffer.length < 5) return;
        const type = String.fromCharCode(buffer[0]);
        const length = buffer.readInt32BE(1);
        if (buffer.length < 1 + length) return;
        const body = buffer.subarray(5, 1 + length);
        buffer = buffer.subarray(1 + length);
        if (type === 'p') {
          passwords.push(body.subarray(0, Math.max(0, body.length - 1)).toString('utf8'));
          const fields = Buffer.from('SFATAL\0C28P01\0Mpassword authentication failed\0\0', 'latin1');
          const error = Buffer.alloc(5);
          error.write('E', 0);
          error.writeInt32BE(4 + fields.length, 1);
          socket.end(Buffer.concat([error, fields]));
          return;
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('the password recorder has no port');
  return {
    host: '127.0.0.1',
    port: address.port,
    passwords,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
