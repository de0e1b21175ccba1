// Slack's Socket Mode end, for tests: a minimal WebSocket server (RFC 6455 handshake, text frames,
// ping → pong, close) that greets with `hello` like Slack, sends envelopes, and records the acks
// the app sends back. Pair it with the fake Web API's `apps.connections.open`:
//   slack.handle('apps.connections.open', () => ({ url: socket.url }))
import { createHash } from 'node:crypto';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';

export interface FakeSocketMode {
  /** ws://127.0.0.1:<port>/link: what apps.connections.open answers. */
  readonly url: string;
  /** Resolves once a client has connected (and been sent `hello`). */
  connected(): Promise<void>;
  /** Sends an envelope to the connected client. */
  send(envelope: Record<string, unknown>): void;
  /** Acks received from the client: {envelope_id, payload}. */
  acks(): { envelope_id: string; payload?: unknown }[];
  close(): Promise<void>;
}

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

function frame(opcode: number, data: Buffer): Buffer {
  const n = data.length;
  const head =
    n < 126 ? Buffer.from([0x80 | opcode, n]) : n < 65536 ? Buffer.from([0x80 | opcode, 126, n >> 8, n & 255]) : Buffer.alloc(10);
  if (n >= 65536) {
    head[0] = 0x80 | opcode;
    head[1] = 127;
    head.writeBigUInt64BE(BigInt(n), 2);
  }
  return Buffer.concat([head, data]);
}

export async function startFakeSocketMode(): Promise<FakeSocketMode> {
  let socket: Duplex | undefined;
  let onConnected: () => void = () => undefined;
  const isConnected = new Promise<void>((ok) => (onConnected = ok));
  const acks: { envelope_id: string; payload?: unknown }[] = [];
  const server: Server = createServer((_, res) => res.writeHead(426).end());

  server.on('upgrade', (req, sock: Duplex) => {
    const accept = createHash('sha1').update(`${req.headers['sec-websocket-key']}${GUID}`).digest('base64');
    sock.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
    socket = sock;
    let pending = Buffer.alloc(0);
    sock.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      // Client frames are always masked (RFC 6455 §5.3).
      for (;;) {
        if (pending.length < 2) return;
        const opcode = pending[0]! & 0x0f;
        let len = pending[1]! & 0x7f;
        let at = 2;
        if (len === 126) {
          len = pending.readUInt16BE(2);
          at = 4;
        } else if (len === 127) {
          len = Number(pending.readBigUInt64BE(2));
          at = 10;
        }
        if (pending.length < at + 4 + len) return;
        const mask = pending.subarray(at, at + 4);
        const data = Buffer.from(pending.subarray(at + 4, at + 4 + len));
        for (let i = 0; i < data.length; i++) data[i]! ^= mask[i % 4]!;
        pending = pending.subarray(at + 4 + len);
        if (opcode === 1) acks.push(JSON.parse(data.toString('utf8')) as { envelope_id: string });
        else if (opcode === 9) sock.write(frame(10, data));
        else if (opcode === 8) {
          sock.end(frame(8, data.subarray(0, 2)));
          socket = undefined;
        }
      }
    });
    sock.on('error', () => undefined);
    sock.write(
      frame(
        1,
        Buffer.from(
          JSON.stringify({
            type: 'hello',
            num_connections: 1,
            debug_info: { host: 'fake-socket-mode' },
            connection_info: { app_id: 'A0LIFEBOAT' },
          }),
        ),
      ),
    );
    onConnected();
  });

  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}/link`,
    connected: () => isConnected,
    send(envelope) {
      if (!socket) throw new Error('no Socket Mode client is connected');
      socket.write(frame(1, Buffer.from(JSON.stringify(envelope))));
    },
    acks: () => [...acks],
    async close() {
      socket?.destroy();
      server.closeAllConnections();
      await new Promise<void>((ok) => server.close(() => ok()));
    },
  };
}
