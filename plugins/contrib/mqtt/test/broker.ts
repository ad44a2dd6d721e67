/**
 * Test support: a real MQTT broker (aedes) in this process on 127.0.0.1, restartable on the same
 * port, and a TCP relay that can swallow one PUBACK on its way to the broker and cut the
 * connection (a lost acknowledgement, to provoke a QoS 1 redelivery).
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { Aedes } from 'aedes';
import { connect, type MqttClient } from 'mqtt';

export interface TestBroker {
  readonly port: number;
  readonly url: string;
  readonly aedes: Aedes;
  /** Closes the broker and every connection (in-memory sessions are lost). */
  stop(): Promise<void>;
}

export async function startBroker(port = 0): Promise<TestBroker> {
  const aedes = await Aedes.createBroker();
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    aedes.handle(socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const actual = (server.address() as AddressInfo).port;
  return {
    port: actual,
    url: `mqtt://127.0.0.1:${actual}`,
    aedes,
    async stop() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      await closed;
    },
  };
}

export interface AckEater {
  readonly url: string;
  /** Resolves once a PUBACK was swallowed and the connection cut. */
  readonly swallowed: Promise<void>;
  stop(): Promise<void>;
}

/** Relays client → broker; drops the first PUBACK the client sends and cuts that connection. */
export async function startAckEater(brokerPort: number): Promise<AckEater> {
  let armed = true;
  let onSwallowed!: () => void;
  const swallowed = new Promise<void>((resolve) => {
    onSwallowed = resolve;
  });
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(brokerPort, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    upstream.pipe(client);
    let pending = Buffer.alloc(0);
    client.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      // Forward whole MQTT packets: fixed header byte, remaining length (varint), body.
      for (;;) {
        if (pending.length < 2) return;
        let len = 0;
        let mul = 1;
        let i = 1;
        for (; i < pending.length && i <= 4; i++) {
          len += (pending[i] & 0x7f) * mul;
          mul *= 128;
          if ((pending[i] & 0x80) === 0) break;
        }
        if (i >= pending.length) return;
        const total = i + 1 + len;
        if (pending.length < total) return;
        const packet = pending.subarray(0, total);
        pending = pending.subarray(total);
        if (armed && packet[0] >> 4 === 4) {
          // PUBACK
          armed = false;
          client.destroy();
          upstream.destroy();
          onSwallowed();
          return;
        }
        upstream.write(packet);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`,
    swallowed,
    async stop() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}

/** A connected publishing client. */
export async function publisher(url: string): Promise<MqttClient> {
  const client = connect(url, { reconnectPeriod: 0, clientId: `pub-${Math.random().toString(16).slice(2)}` });
  client.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
  return client;
}

export function publish(client: MqttClient, topic: string, payload: string | Buffer, qos: 0 | 1 = 1): Promise<void> {
  return new Promise((resolve, reject) => client.publish(topic, payload, { qos }, (err) => (err ? reject(err) : resolve())));
}

/** Resolves when the input's client has subscribed to `count` filters on this broker. */
export function subscribed(broker: TestBroker, clientIdPrefix = 'tsstore'): Promise<void> {
  return new Promise((resolve) => {
    const on = (_subs: unknown, client: { id: string } | null): void => {
      if (client?.id.startsWith(clientIdPrefix)) {
        broker.aedes.off('subscribe', on);
        resolve();
      }
    };
    broker.aedes.on('subscribe', on);
  });
}
