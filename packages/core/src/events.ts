/** Typed store events with durations; metrics and logs subscribe, core imports no metrics library. */
import { Emitter as SharedEmitter } from '@profilesync/errors';
import type { StoreEventName, StoreEvents } from './types.js';

export type { StoreEventName, StoreEvents };

/** The store's emitter (the shared typed emitter; throwing listeners become warnings, never break a durable write). */
export class Emitter extends SharedEmitter<StoreEvents> {
  constructor() {
    super('@profilesync/core');
  }
}

export function monoMs(): number {
  return performance.now();
}
