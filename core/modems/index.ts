import type { PortClass } from "./at.ts";
import { resolveModemsConfig, type ModemsConfigInput } from "./config.ts";
import { registerEmulatedModems } from "./emulated.ts";
import { EmulatedSerialPort, type EmulatedModem, type ModemRegistry } from "./emulator/index.ts";
import { ModemPool } from "./pool.ts";
import type { ModemLayerDeps } from "./types.ts";
import { SerialPort } from "serialport";

export { modemsConfigSchema, resolveModemsConfig } from "./config.ts";
export type { ModemsConfig, ModemsConfigInput, PortOverride } from "./config.ts";
export { formatModemTable } from "./table.ts";
export { ModemPool } from "./pool.ts";
export { emulatedIdentity } from "./emulated.ts";
export type { ModemLayer, ModemLayerDeps } from "./types.ts";

export interface ModemLayerOptions {
  /** The serialport class: `SerialPort` (default) or an emulator port class. */
  portClass?: PortClass;
  /** Lists candidate ports for the configured globs (default: the filesystem plus the port class's list()). */
  glob?: (patterns: readonly string[]) => Promise<string[]>;
  /** Where `modems.emulator` registers its modems (default: the emulator's global registry, which EmulatedSerialPort uses). */
  registry?: ModemRegistry;
  /** How long start() waits for the first scan and the modems' first connections (default 5 s); slower modems join as they come. */
  startWaitMs?: number;
  /** Re-probing of listed ports that did not answer AT: first delay, doubling up to the cap (default 10 s up to 160 s). */
  probeRetry?: { firstMs: number; maxMs: number };
  /** The rescan trigger file (default /run/simhive/rescan). */
  trigger?: string;
}

/** The layer `createModemLayer` returns: the ModemLayer contract, plus the emulated modems when `modems.emulator` is set. */
export type ModemLayerImpl = ModemPool & { readonly emulated: ReadonlyMap<string, EmulatedModem> };

/**
 * Builds the modem layer from the `modems` config section (validated here,
 * defaults filled). With `modems.emulator.count` N > 0 it registers N emulated
 * modems and drives them through EmulatedSerialPort: no hardware needed.
 */
export function createModemLayer(input: ModemsConfigInput | Record<string, unknown> | undefined, deps: ModemLayerDeps, options: ModemLayerOptions = {}): ModemLayerImpl {
  const config = resolveModemsConfig(input ?? {});
  let portClass: PortClass = options.portClass ?? SerialPort;
  let emulated = new Map<string, EmulatedModem>();
  let unregister = () => {};
  if (config.emulator && config.emulator.count > 0) {
    const registered = registerEmulatedModems(config.emulator, options.registry);
    emulated = registered.modems;
    unregister = registered.unregister;
    portClass = options.portClass ?? EmulatedSerialPort;
    const glob = `${config.emulator.pathPrefix}*`;
    if (!config.ports.includes(glob)) config.ports = [...config.ports.filter((p) => p !== "/dev/serial/by-path/*"), glob];
  }
  const pool = new ModemPool({
    config,
    deps,
    portClass,
    ...(options.glob ? { list: options.glob } : {}),
    ...(options.startWaitMs === undefined ? {} : { startWaitMs: options.startWaitMs }),
    ...(options.probeRetry === undefined ? {} : { probeRetry: options.probeRetry }),
    ...(options.trigger === undefined ? {} : { trigger: options.trigger }),
    onStop: () => unregister(),
  });
  return Object.assign(pool, { emulated }) as ModemLayerImpl;
}
