/**
 * Which stores are open: stores open lazily on first use and at most `maxOpen` are open at once;
 * when a slot is needed, the least recently used idle store is closed.
 *
 *   use(store, op) ──open?──yes──► in flight++ ──► op ──► in flight-- ──► wake waiters
 *                     │no
 *                     ├─ opening/closing: wait for that transition, then again
 *                     └─ closed: take a slot ──► open (once, shared by concurrent callers)
 *                          │ no free slot: close the least recently used idle store
 *                          └ none idle: wait until a store goes idle or a slot frees
 *
 * Idle means no operation of the store in flight: a store is never closed under a request.
 * Opens, closes and the store's own operations never overlap: an operation waits for a
 * transition, and a close starts only at zero in flight (and marks the store closing first, so
 * nothing new starts). The bound is hard: opening waits for a slot rather than exceed it.
 *
 * After an open fills the last slot, the least recently used idle store starts closing in the
 * background, so the next open usually finds a free slot instead of waiting for a close (which
 * syncs and writes a summary); an open that finds none free waits for a close under way before
 * choosing a victim of its own.
 *
 * A failed open is remembered: requests within `retryMs` get the same error without trying
 * again; after that the next request tries again (an operator may have repaired the files).
 */
import { TssError } from '../plugin/errors.js';

export interface LifecycleHooks {
  /** Attach the store (the sink's openStore, after invalidating its summary). */
  open(store: string): Promise<void>;
  /** Detach an idle store (persist its summary, then the sink's closeStore). */
  close(store: string): Promise<void>;
  /** A failed open becomes this error (also reported as the store's problem). */
  openFailed(store: string, err: unknown): TssError;
  /** Cleared when the store opens again after a failure. */
  opened?(store: string): void;
}

type Phase = 'closed' | 'opening' | 'open' | 'closing';

interface Slot {
  readonly name: string;
  phase: Phase;
  inflight: number;
  /** The open or close under way. */
  transition?: Promise<void>;
  failure?: { readonly error: TssError; readonly at: number };
  /** Being dropped: new operations are refused. */
  retiring: boolean;
}

export interface UseOptions {
  /** Count as a use for the LRU order (default true; metric scrapes pass false). */
  readonly touch?: boolean;
}

export class StoreLifecycle {
  private readonly slots = new Map<string, Slot>();
  /** Open stores, least recently used first (Map keeps insertion order; a use re-inserts). */
  private readonly lru = new Map<string, Slot>();
  /** Slots taken: opening + open + closing. */
  private taken = 0;
  /** Closes under way. */
  private closing = 0;
  private waiters: (() => void)[] = [];

  constructor(
    readonly maxOpen: number,
    private readonly hooks: LifecycleHooks,
    private readonly retryMs = 5_000,
  ) {
    if (!Number.isInteger(maxOpen) || maxOpen < 1) throw new RangeError(`maxOpen must be a positive integer, got ${maxOpen}`);
  }

  /** Stores open now (or opening / closing): never more than maxOpen. */
  get openCount(): number {
    return this.taken;
  }

  isOpen(store: string): boolean {
    return this.slots.get(store)?.phase === 'open';
  }

  /** Resolves once the store's open or close under way (if any) has finished. */
  async quiet(store: string): Promise<void> {
    for (let t = this.slots.get(store)?.transition; t; t = this.slots.get(store)?.transition) await t.catch(() => undefined);
  }

  /** A store just created by the sink: it is open. Call after `reserve()` resolved. */
  adopt(store: string): void {
    const slot = this.slot(store);
    slot.phase = 'open';
    slot.failure = undefined;
    this.lru.set(store, slot);
  }

  /** Takes a slot for a store about to be created; give it back with `unreserve` on failure. */
  reserve(): Promise<void> {
    return this.takeSlot();
  }

  unreserve(): void {
    this.freeSlot();
  }

  /** Runs `op` with the store open, opening it first if needed. */
  use<T>(store: string, op: () => Promise<T>, options?: UseOptions): Promise<T> {
    const slot = this.slots.get(store);
    if (slot && slot.phase === 'open' && !slot.retiring) return this.run(slot, op, options?.touch !== false);
    return this.useSlow(store, op, options?.touch !== false);
  }

  private async useSlow<T>(store: string, op: () => Promise<T>, touch: boolean): Promise<T> {
    for (;;) {
      const slot = this.slot(store);
      if (slot.retiring) throw new TssError('TSS_ERR_STORE_NOT_FOUND', `store not found: ${store}`);
      if (slot.phase === 'open') return this.run(slot, op, touch);
      if (slot.transition) {
        await slot.transition.catch(() => undefined);
        continue;
      }
      if (slot.failure && Date.now() - slot.failure.at < this.retryMs) throw slot.failure.error;
      slot.phase = 'opening';
      slot.transition = this.open(slot);
      // Callers that arrive meanwhile wait for this transition; this one sees its error.
      await slot.transition;
    }
  }

  private async open(slot: Slot): Promise<void> {
    try {
      await this.takeSlot(slot);
    } catch (err) {
      slot.phase = 'closed';
      slot.transition = undefined;
      throw err;
    }
    try {
      await this.hooks.open(slot.name);
      slot.phase = 'open';
      if (slot.failure) {
        slot.failure = undefined;
        this.hooks.opened?.(slot.name);
      }
      this.lru.set(slot.name, slot);
      this.makeRoom(slot);
    } catch (err) {
      slot.phase = 'closed';
      const error = this.hooks.openFailed(slot.name, err);
      slot.failure = { error, at: Date.now() };
      this.freeSlot();
      throw error;
    } finally {
      slot.transition = undefined;
    }
  }

  private run<T>(slot: Slot, op: () => Promise<T>, touch: boolean): Promise<T> {
    slot.inflight++;
    if (touch) {
      this.lru.delete(slot.name);
      this.lru.set(slot.name, slot);
    }
    let p: Promise<T>;
    try {
      p = op();
    } catch (err) {
      this.done(slot);
      return Promise.reject(err);
    }
    return p.finally(() => this.done(slot));
  }

  private done(slot: Slot): void {
    if (--slot.inflight === 0) this.wake();
  }

  /** Takes a slot, closing the least recently used idle store when none is free. */
  private async takeSlot(forSlot?: Slot): Promise<void> {
    for (;;) {
      if (forSlot?.retiring) throw new TssError('TSS_ERR_STORE_NOT_FOUND', `store not found: ${forSlot.name}`);
      if (this.taken < this.maxOpen) {
        this.taken++;
        return;
      }
      if (this.closing > 0) {
        await new Promise<void>((resolve) => this.waiters.push(resolve));
        continue;
      }
      const victim = this.idleVictim();
      if (victim) await this.close(victim).catch(() => undefined);
      else await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  private idleVictim(except?: Slot): Slot | undefined {
    for (const slot of this.lru.values()) if (slot.inflight === 0 && slot.phase === 'open' && slot !== except) return slot;
    return undefined;
  }

  /** With every slot taken, starts closing the least recently used idle store (not `opened`). */
  private makeRoom(opened: Slot): void {
    if (this.taken < this.maxOpen || this.closing > 0) return;
    const victim = this.idleVictim(opened);
    if (victim) void this.close(victim).catch(() => undefined);
  }

  private freeSlot(): void {
    this.taken--;
    this.wake();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  /** Closes an idle open store; the slot frees even when the close fails (it is logged by the hook). */
  private close(slot: Slot): Promise<void> {
    slot.phase = 'closing';
    this.closing++;
    this.lru.delete(slot.name);
    const run = (async () => {
      try {
        await this.hooks.close(slot.name);
      } finally {
        slot.phase = 'closed';
        slot.transition = undefined;
        this.closing--;
        this.freeSlot();
      }
    })();
    slot.transition = run;
    return run;
  }

  /** Waits until the store has no transition and nothing in flight. */
  private async settle(slot: Slot): Promise<void> {
    for (;;) {
      if (slot.transition) await slot.transition.catch(() => undefined);
      else if (slot.inflight > 0) await new Promise<void>((resolve) => this.waiters.push(resolve));
      else return;
    }
  }

  /** Closes every open store (at shutdown), a few at a time. */
  async closeAll(concurrency = 8): Promise<void> {
    const queue = [...this.slots.values()].filter((s) => s.phase === 'open' || s.transition !== undefined);
    await Promise.all(
      Array.from({ length: Math.min(concurrency, queue.length) }, async () => {
        for (let slot = queue.shift(); slot; slot = queue.shift()) {
          await this.settle(slot);
          if (slot.phase === 'open') await this.close(slot).catch(() => undefined);
        }
      }),
    );
  }

  /**
   * For a drop: refuses new operations of the store, waits for those in flight, and runs `drop`
   * with whether the store is open. The store is forgotten afterwards.
   */
  async retire(store: string, drop: (open: boolean) => Promise<void>): Promise<void> {
    const slot = this.slot(store);
    slot.retiring = true;
    try {
      await this.settle(slot);
      await drop(slot.phase === 'open');
    } finally {
      this.slots.delete(store);
      this.lru.delete(store);
      if (slot.phase === 'open') this.freeSlot();
      slot.phase = 'closed';
      this.wake();
    }
  }

  private slot(store: string): Slot {
    let slot = this.slots.get(store);
    if (!slot) {
      slot = { name: store, phase: 'closed', inflight: 0, retiring: false };
      this.slots.set(store, slot);
    }
    return slot;
  }
}
