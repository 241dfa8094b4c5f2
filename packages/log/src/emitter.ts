import { Emitter as SharedEmitter } from '@profilesync/errors';

/** The log's emitter (the shared typed emitter; throwing listeners become warnings naming the log). */
export class Emitter<Events extends object> extends SharedEmitter<Events> {
  constructor() {
    super('@profilesync/log');
  }
}
