export {
  EmulatedBindingPort,
  EmulatedSerialPort,
  EmulatorBinding,
  ModemRegistry,
  createEmulatedPortClass,
  emulatorBinding,
  emulatorRegistry,
} from "./binding.ts";
export type { EmulatedPortOptions } from "./binding.ts";
export { EmulatedModem } from "./modem.ts";
export type { EmulatedModemOptions, InjectOptions, ModemCounters, ModemLink, Session } from "./modem.ts";
export type { SlotStatus, StoredMessage } from "./storage.ts";
export { RemoteBinding, RemoteBindingPort, RemoteEmulator } from "./remote.ts";
export type { EmulatorWorkerData, ModemControl, RemotePortOptions, RemoteSerialPortClass, RemoteStats } from "./remote.ts";
