/**
 * One "send one record of data to a schema store" function per input method, all with the same
 * shape, so the schema test table runs identically through every input.
 */
import { api } from './server.js';

export type SendResult = { readonly ok: true; readonly timestamp: bigint } | { readonly ok: false; readonly message: string };

export interface SendTarget {
  readonly url: string;
  readonly store: string;
  readonly key: string;
}

export interface Sender {
  readonly name: string;
  /** The formats this input can send (`compact` needs a way to say so). */
  readonly formats: readonly ('full' | 'compact')[];
  /** Sends one record whose `data` is the JSON text `data`. */
  send(target: SendTarget, data: string, format: 'full' | 'compact'): Promise<SendResult>;
  close?(): Promise<void>;
}

export const restSingle: Sender = {
  name: 'REST single',
  formats: ['full', 'compact'],
  async send(t, data, format) {
    const q = format === 'compact' ? '?format=compact' : '';
    const res = await api(t.url, 'POST', `/api/stores/${t.store}/data${q}`, `{"data":${data}}`, { 'X-API-Key': t.key, 'Content-Type': 'application/json' });
    if (res.status === 201) return { ok: true, timestamp: BigInt(res.json.timestamp as bigint | number) };
    if (res.status >= 500) throw new Error(`server error ${res.status}: ${res.text}`);
    return { ok: false, message: res.json.error as string };
  },
};
