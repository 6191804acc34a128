import { readFileSync } from "node:fs";
import type { IClientOptions } from "mqtt";
import { SimhiveError } from "../../core/errors.ts";
import type { MqttTelemetryConfig, TlsConfig } from "./config.ts";

/** The config keys whose change needs a new connection (applied on reload by reconnecting). */
export const CONNECTION_KEYS = ["url", "username", "password", "tls", "clientId", "keepaliveSeconds"] as const;

/** A PEM given inline, or read from the path given. */
function pem(value: string | undefined, what: string): Buffer | undefined {
  if (value === undefined) return undefined;
  if (value.includes("-----BEGIN")) return Buffer.from(value);
  try {
    return readFileSync(value);
  } catch (error) {
    throw new SimhiveError("SIMHIVE_ERR_CONFIG", `plugins.mqtt-telemetry.tls.${what}: cannot read ${value}: ${(error as Error).message}`, { cause: error });
  }
}

/** mqtt.js options from the config section (TLS files are read here: a file that cannot be read is a config error). */
export function clientOptions(config: MqttTelemetryConfig, hubId: string): IClientOptions {
  const tls: TlsConfig = config.tls ?? {};
  return {
    clientId: config.clientId ?? `simhive_${hubId}`,
    keepalive: config.keepaliveSeconds,
    ...(config.username === undefined ? {} : { username: config.username }),
    ...(config.password === undefined ? {} : { password: config.password }),
    ...(tls.ca === undefined ? {} : { ca: pem(tls.ca, "ca") }),
    ...(tls.cert === undefined ? {} : { cert: pem(tls.cert, "cert") }),
    ...(tls.key === undefined ? {} : { key: pem(tls.key, "key") }),
    rejectUnauthorized: tls.rejectUnauthorized ?? true,
  };
}
