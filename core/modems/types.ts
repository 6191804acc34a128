import type { EventBus } from "../bus.ts";
import type { Logger } from "../log.ts";
import type { Store } from "../store/store.ts";
import type { ModemsView, NumbersView } from "../types.ts";

/**
 * What the hub needs from the modem layer (core/modems): the read-only views
 * plugins get, and a lifecycle. `createModemLayer` in core/modems/index.ts
 * builds the real one from `modems` config.
 */
export interface ModemLayer extends ModemsView {
  readonly numbers: NumbersView;
  start(): Promise<void>;
  /** Closes every port; must finish within a few seconds even with hung modems. */
  stop(): Promise<void>;
  /** Re-scan the port globs now (udev add/remove, SIGHUP). */
  rescan(): Promise<void>;
}

export interface ModemLayerDeps {
  log: Logger;
  bus: EventBus;
  store: Store;
}
