/** The `ws_pull` input: tsstore dials remote WebSocket servers and stores what they send (README.md). */
import { defineInput } from 'tsstore/plugin';
import { wsPullOptionsSchema, type WsPullOptions } from './options.js';
import { WsPullInput } from './ws-pull-input.js';

export const wsPullInput = defineInput<WsPullOptions>({
  type: 'ws_pull',
  description: 'Outbound pull: dials remote WebSocket servers (POST /api/stores/:store/ws/connections), resumes from the last stored timestamp, skips replays.',
  apiVersion: '^1.3.0',
  options: wsPullOptionsSchema,
  create: (options, ctx) => new WsPullInput(options, ctx),
});

export default wsPullInput;
export type { WsPullOptions } from './options.js';
