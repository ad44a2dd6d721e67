/**
 * A real MQTT broker (aedes) in this process on 127.0.0.1, restartable on the same port, that
 * records every message clients publish to it (`messages`), optionally checking credentials.
 * For the MQTT publish output's tests and benchmark.
 */
import net from 'node:net';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { Aedes } from 'aedes';

export interface PublishedMessage {
  readonly topic: string;
  readonly payload: Buffer;
  readonly qos: number;
  readonly clientId: string;
}

export interface BrokerOptions {
  /** Accept only this username and password (CONNACK 4, bad user name or password, otherwise). */
  readonly credentials?: { readonly username: string; readonly password: string };
  /** Refuse every connection with CONNACK 5 (not authorized). */
  readonly refuseAll?: boolean;
  /** Serve MQTT over TLS with this certificate (url is then mqtts://). */
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer };
}

export interface LocalBroker {
  readonly port: number;
  readonly url: string;
  /** Every message clients published, in arrival order (kept across restart()). */
  readonly messages: PublishedMessage[];
  /** Connection attempts the broker refused. */
  refused: number;
  /** Stops the broker and cuts every connection (in-memory state is lost). */
  stop(): Promise<void>;
  /** Starts it again on the same port. */
  restart(): Promise<void>;
}

export async function startLocalBroker(options: BrokerOptions = {}, port = 0): Promise<LocalBroker> {
  const messages: PublishedMessage[] = [];
  let current: { server: net.Server; aedes: Aedes; sockets: Set<net.Socket> } | undefined;
  const broker: LocalBroker = {
    port,
    url: '',
    messages,
    refused: 0,
    async stop() {
      const c = current;
      current = undefined;
      if (!c) return;
      const closed = new Promise<void>((resolve) => c.server.close(() => resolve()));
      for (const s of c.sockets) s.destroy();
      await new Promise<void>((resolve) => c.aedes.close(() => resolve()));
      await closed;
    },
    async restart() {
      await broker.stop();
      await listen(broker.port);
    },
  };
  async function listen(at: number): Promise<void> {
    const aedes = await Aedes.createBroker({
      authenticate(_client, username, password, done) {
        const fail = (code: 4 | 5, msg: string): void => {
          broker.refused++;
          done(Object.assign(new Error(msg), { returnCode: code }), false);
        };
        if (options.refuseAll) return fail(5, 'not authorized');
        const want = options.credentials;
        if (want && (username !== want.username || password?.toString() !== want.password)) return fail(4, 'bad user name or password');
        done(null, true);
      },
    });
    aedes.on('publish', (packet, client) => {
      if (client) messages.push({ topic: packet.topic, payload: Buffer.from(packet.payload), qos: packet.qos, clientId: client.id });
    });
    const sockets = new Set<net.Socket>();
    const onSocket = (socket: net.Socket): void => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
      aedes.handle(socket);
    };
    const server = options.tls ? tls.createServer({ cert: options.tls.cert, key: options.tls.key }, onSocket) : net.createServer(onSocket);
    if (options.tls) server.on('tlsClientError', () => undefined);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(at, '127.0.0.1', () => resolve());
    });
    const actual = (server.address() as AddressInfo).port;
    Object.assign(broker, { port: actual, url: `${options.tls ? 'mqtts' : 'mqtt'}://127.0.0.1:${actual}` });
    current = { server, aedes, sockets };
  }
  await listen(port);
  return broker;
}
