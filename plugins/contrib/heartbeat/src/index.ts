import { defineInput, Joi, type Emit, type InputPlugin } from 'tsstore/plugin';

interface HeartbeatOptions {
  store: string;
  interval_ms: number;
}

/** Stores `{"beat":N,"rss":BYTES}` into one store every `interval_ms`. */
export default defineInput<HeartbeatOptions>({
  type: 'heartbeat',
  description: 'Stores a heartbeat record every interval_ms',
  apiVersion: '^1.0.0',
  options: Joi.object({
    store: Joi.string().required(),
    interval_ms: Joi.number().integer().min(10).default(1000),
  }),
  create(options, ctx): InputPlugin {
    let timer: NodeJS.Timeout | undefined;
    let pending: Promise<unknown> = Promise.resolve();
    let beat = 0;
    return {
      async start(emit: Emit) {
        timer = setInterval(() => {
          const payload = Buffer.from(JSON.stringify({ beat: ++beat, rss: process.memoryUsage().rss }));
          pending = emit([{ store: options.store, payload, format: 'json', origin: { input: ctx.id } }])
            .then(([r]) => {
              if (!r.ok) ctx.logger.warn({ code: r.code }, r.message);
            })
            .catch((err: Error) => ctx.logger.warn({ err: err.message }, 'Heartbeat not stored.'));
        }, options.interval_ms);
      },
      async stop() {
        clearInterval(timer);
        await pending;
      },
    };
  },
});
