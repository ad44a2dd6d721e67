/**
 * Plugin descriptors and the context each kind of plugin receives.
 *
 * A descriptor is what a plugin package exports: `kind` + `type` pick it from config, `options`
 * (joi) validates the rest of its config block, `create` builds an instance. Built-in plugins are
 * registered through exactly the same descriptors as outside packages.
 *
 * Contexts hand a plugin everything it may use. Plugins never import tsstore internals or the DI
 * container.
 */
import type Joi from 'joi';
import type Router from '@koa/router';
import type { Middleware } from 'koa';
import type { InputPlugin } from './input.js';
import type { Deliveries, OutputPlugin } from './output.js';
import type { Sink } from './sink.js';
import type { Stage, StoreView } from './stage.js';
import type { OutboundPolicy } from './kit/outbound.js';

/** Version of this plugin API. Plugins declare the range they need in `apiVersion`. */
export const PLUGIN_API_VERSION = '1.3.0';

/** pino-compatible structured logger: fields first, then a sentence. */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  child(bindings: Record<string, unknown>): Logger;
}

/** Label values of one metric series, by label name. */
export type MetricLabels = Readonly<Record<string, string>>;

/** A monotonically increasing count (Prometheus counter). */
export interface PluginCounter {
  inc(labels?: MetricLabels, value?: number): void;
  /** The series for these labels, resolved once: keep it and call `inc` on hot paths. */
  labels(labels: MetricLabels): { inc(value?: number): void };
}

/** A value that goes up and down (Prometheus gauge), e.g. open connections. */
export interface PluginGauge {
  set(labels: MetricLabels, value: number): void;
  inc(labels?: MetricLabels, value?: number): void;
  dec(labels?: MetricLabels, value?: number): void;
  /** The series for these labels, resolved once: keep it for hot paths. */
  labels(labels: MetricLabels): { set(value: number): void; inc(value?: number): void; dec(value?: number): void };
}

/**
 * Metrics a plugin may publish on the server's `GET /metrics`, without importing prom-client.
 * Names are snake_case without prefix: a plugin of kind K registering `open_connections` appears
 * as `tsstore_K_open_connections` with a label naming the instance (`input="<id>"`, `stage=…`,
 * `sink=…`, `output=…`) added to `labelNames`. Registering the same name twice (from two instances of one
 * plugin, or in two plugins) returns the same metric when type, help and label names agree, and
 * throws otherwise. Suggested names: `open_connections` (gauge, inputs that hold connections),
 * `connections` (gauge, label `state`, for outbound connections such as pulls),
 * `reconnects_total` (counter). Metrics live as long as the server; values are per server.
 */
export interface PluginMetrics {
  counter(name: string, help: string, labelNames?: readonly string[]): PluginCounter;
  gauge(name: string, help: string, labelNames?: readonly string[]): PluginGauge;
}

/** Given to every plugin. */
export interface PluginContext {
  /** Instance id: the plugin's key in the pipeline config (e.g. `api`, `stream`). */
  readonly id: string;
  readonly logger: Logger;
  /** Root data directory (stores live below it). */
  readonly dataDir: string;
  /**
   * The server's metrics (see PluginMetrics). Optional so contexts built by older hosts and
   * test harnesses stay valid; the tsstore server always provides it.
   */
  readonly metrics?: PluginMetrics;
  /**
   * The server's outbound allow-list (config `outbound`): every URL a plugin dials because a user
   * or a store's configuration named it (pull sources, push targets, webhooks, brokers) must pass
   * `outbound.check(url)` before the dial (refuse with its TssError, 403) and be dialled with
   * `lookup: outbound.lookupFor(url)` so the connect uses only checked addresses. Since plugin API
   * 1.2.0; optional for contexts built by older hosts: use `ctx.outbound ?? OutboundPolicy.from()`
   * (the default policy).
   */
  readonly outbound?: OutboundPolicy;
}

/**
 * A long-lived authenticated session: a connection that writes many records after one
 * authentication (a WebSocket, a Unix-socket client, a plugin's own protocol). Since plugin API
 * 1.1.0.
 */
export interface StoreSession {
  readonly store: StoreView;
  /**
   * Aborts when the session must end: the key it authenticated with was revoked or regenerated,
   * or the store was deleted or reset (an admin-key session ends with the store's deletion or
   * reset). `signal.reason` is a TssError `TSS_ERR_SESSION_ENDED` whose message says why. The
   * contract for a streaming input: listen for `abort` once per session (nothing per record),
   * hand no further record of that session to `emit`, answer the records it received but did not
   * emit with that error, and close the connection. The signal is shared by every session of the
   * same key: remove the listener when the connection closes.
   */
  readonly signal: AbortSignal;
}

/** Store lookups and authentication for inputs. Synchronous: keys live in memory. */
export interface StoreAccess {
  /** The store, or undefined when it does not exist. */
  view(store: string): StoreView | undefined;
  /**
   * Check `apiKey` against the store's keys. Returns the store, or throws a TssError:
   * TSS_ERR_API_KEY_REQUIRED / _FORMAT / _INVALID (401) or TSS_ERR_STORE_NOT_FOUND (404).
   */
  authenticate(store: string, apiKey: string | undefined): StoreView;
  /**
   * Like `authenticate`, for a connection that stays open: the StoreSession's signal says when the
   * session must end (see StoreSession). Streaming inputs must authenticate this way. Since 1.1.0.
   */
  session(store: string, apiKey: string | undefined): StoreSession;
  /**
   * Be told when a store is deleted. The listener runs after the store stopped taking requests'
   * authentication but before its data and directory are removed; the deletion waits for a
   * returned promise (so an input can stop its work on the store and finish what is in flight).
   * A listener that throws or rejects is logged and does not stop the deletion. Returns a
   * function that removes the listener.
   */
  onStoreDropped(listener: (store: string) => void | Promise<void>): () => void;
}

/** The shared HTTP server (one port for REST, WebSocket and management routes). */
export interface HttpHost {
  /** Router mounted on the server's koa app; register routes here in `start`. */
  readonly router: Router;
  /**
   * Middleware for routes with a `:store` parameter: takes the key from `X-API-Key`,
   * `Authorization: Bearer`, then `?api_key=`, authenticates, and sets `ctx.state.store`
   * (a StoreView) and `ctx.state.session` (a StoreSession: a route that upgrades to a long-lived
   * connection ends it when the session's signal aborts). Answers 401/404 itself.
   */
  readonly storeAuth: Middleware;
  /** Where the server listens (for resource claims and logs). */
  readonly address: string;
  /**
   * The outbound connection endpoints `/api/stores/:store/ws/connections[/:id]`, shared by every
   * plugin that offers a connection mode (`pull`, `push`, ...). Since 1.3.0.
   */
  readonly connections: ConnectionModes;
}

/**
 * One mode of outbound WebSocket connections (`"mode"` in `POST /api/stores/:store/ws/connections`).
 * Status documents are plain objects (bigints allowed, written exactly); absent values are left out.
 */
export interface ConnectionMode {
  /** Create a connection from the request body (`mode` included); throw a TssError (400) naming a bad field. */
  create(store: string, body: Record<string, unknown>): Promise<Record<string, unknown>>;
  /** Status of every connection of this mode on the store. */
  list(store: string): Promise<Record<string, unknown>[]> | Record<string, unknown>[];
  /** Status of one connection, or undefined when this mode has no connection with that id. */
  get(store: string, id: string): Promise<Record<string, unknown> | undefined> | Record<string, unknown> | undefined;
  /** Stop and forget a connection; false when this mode has no connection with that id. */
  remove(store: string, id: string): Promise<boolean>;
}

/**
 * The host owns the routes (store-key auth, body parsing with exact integers, dispatch by `mode`
 * on create, by id on get and delete, every mode's connections in the list); a plugin registers
 * its mode in `start()`. Registering a mode twice throws. Returns a function that unregisters.
 */
export interface ConnectionModes {
  register(mode: string, handler: ConnectionMode): () => void;
}

export interface InputContext extends PluginContext {
  readonly stores: StoreAccess;
  readonly http: HttpHost;
}

/** Outputs: store access, the HTTP host, and deliveries (reading stores from a cursor). */
export interface OutputContext extends PluginContext {
  readonly stores: StoreAccess;
  readonly http: HttpHost;
  /** Read stores in order from cursors (see src/plugin/output.ts); usable from `start()` on. */
  readonly deliveries: Deliveries;
}

export type StageContext = PluginContext;
export type SinkContext = PluginContext;

interface DescriptorBase<O> {
  /** snake_case; equals the plugin's folder name for built-ins. */
  readonly type: string;
  readonly description: string;
  /** Semver range of PLUGIN_API_VERSION this plugin works with, e.g. `^1.0.0`. */
  readonly apiVersion: string;
  /** Validates the plugin's options (the config block minus `type`). Unknown keys are errors. */
  readonly options: Joi.ObjectSchema<O>;
}

export interface InputDescriptor<O = Record<string, unknown>> extends DescriptorBase<O> {
  readonly kind: 'input';
  create(options: O, ctx: InputContext): InputPlugin;
}

export interface StageDescriptor<O = Record<string, unknown>> extends DescriptorBase<O> {
  readonly kind: 'stage';
  create(options: O, ctx: StageContext): Stage;
}

export interface SinkDescriptor<O = Record<string, unknown>> extends DescriptorBase<O> {
  readonly kind: 'sink';
  create(options: O, ctx: SinkContext): Sink;
}

export interface OutputDescriptor<O = Record<string, unknown>> extends DescriptorBase<O> {
  readonly kind: 'output';
  create(options: O, ctx: OutputContext): OutputPlugin;
}

export type PluginDescriptor = InputDescriptor<any> | StageDescriptor<any> | SinkDescriptor<any> | OutputDescriptor<any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export function defineInput<O>(d: Omit<InputDescriptor<O>, 'kind'>): InputDescriptor<O> {
  return { ...d, kind: 'input' };
}

export function defineStage<O>(d: Omit<StageDescriptor<O>, 'kind'>): StageDescriptor<O> {
  return { ...d, kind: 'stage' };
}

export function defineOutput<O>(d: Omit<OutputDescriptor<O>, 'kind'>): OutputDescriptor<O> {
  return { ...d, kind: 'output' };
}

export function defineSink<O>(d: Omit<SinkDescriptor<O>, 'kind'>): SinkDescriptor<O> {
  return { ...d, kind: 'sink' };
}
