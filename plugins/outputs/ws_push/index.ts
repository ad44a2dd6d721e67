/** The `ws_push` output: tsstore dials remote WebSocket servers and sends them a store's records (README.md). */
import { defineOutput } from 'tsstore/plugin';
import { wsPushOptionsSchema, type WsPushOptions } from './options.js';
import { WsPushOutput } from './ws-push-output.js';

export const wsPushOutput = defineOutput<WsPushOptions>({
  type: 'ws_push',
  description:
    "Outbound push: dials remote WebSocket servers (POST /api/stores/:store/ws/connections, mode push) and sends a store's records in order from a persisted cursor.",
  apiVersion: '^1.3.0',
  options: wsPushOptionsSchema,
  create: (options, ctx) => new WsPushOutput(options, ctx),
});

export default wsPushOutput;
export type { WsPushOptions } from './options.js';
export type { PushRecordHook, PushedRecord } from './push-connection.js';
