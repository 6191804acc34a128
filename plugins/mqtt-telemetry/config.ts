import type { JsonSchema } from "../../core/plugins.ts";

export interface TlsConfig {
  /** A path to a PEM file, or the PEM text itself. */
  ca?: string;
  cert?: string;
  key?: string;
  rejectUnauthorized?: boolean;
}

/** The `mqtt-telemetry` config section after defaults are applied. */
export interface MqttTelemetryConfig {
  url: string;
  username?: string;
  password?: string;
  tls?: TlsConfig;
  baseTopic: string;
  clientId?: string;
  statsSeconds: number;
  includeText: boolean;
  homeassistant: boolean;
  homeassistantPrefix: string;
  commands: boolean;
  keepaliveSeconds: number;
  /** Cap of the reconnect backoff (1 s, 2 s, 4 s ... up to this). */
  reconnectMaxSeconds: number;
  /** The wait between attempts while the broker refuses the credentials (a config reload retries at once). */
  refusedRetrySeconds: number;
  /** After the hub started, how long before retained topics of modems it has not found are cleared. */
  staleAfterSeconds: number;
}

/** A topic level without wildcards, separators or control characters. */
const TOPIC_LEVELS = "^[^#+\\u0000-\\u001f]+(/[^#+\\u0000-\\u001f/]+)*$";
const TOPIC_LEVEL = "^[^#+/\\u0000-\\u001f]+$";

export const configSchema: JsonSchema = {
  type: "object",
  additionalProperties: false,
  required: ["url"],
  properties: {
    url: { type: "string", pattern: "^(mqtts?|wss?|tcp|ssl)://", description: "Broker URL, e.g. mqtt://localhost:1883 or mqtts://broker:8883" },
    username: { type: "string" },
    password: { type: "string" },
    tls: {
      type: "object",
      additionalProperties: false,
      properties: {
        ca: { type: "string", description: "Path to a PEM file, or the PEM text" },
        cert: { type: "string", description: "Path to a PEM file, or the PEM text" },
        key: { type: "string", description: "Path to a PEM file, or the PEM text" },
        rejectUnauthorized: { type: "boolean", default: true },
      },
    },
    baseTopic: { type: "string", pattern: TOPIC_LEVELS, default: "simhive" },
    clientId: { type: "string", minLength: 1, maxLength: 128 },
    statsSeconds: { type: "integer", minimum: 1, maximum: 86_400, default: 30 },
    includeText: { type: "boolean", default: false, description: "Publish SMS text and sender on the events topic (debug only)" },
    homeassistant: { type: "boolean", default: false },
    homeassistantPrefix: { type: "string", pattern: TOPIC_LEVEL, default: "homeassistant" },
    commands: { type: "boolean", default: false, description: "Accept modem commands on <base>/<hubId>/modems/<imei>/set" },
    keepaliveSeconds: { type: "integer", minimum: 1, maximum: 65_535, default: 30 },
    reconnectMaxSeconds: { type: "integer", minimum: 1, maximum: 3_600, default: 60 },
    refusedRetrySeconds: {
      type: "integer",
      minimum: 1,
      maximum: 86_400,
      default: 600,
      description: "While the broker refuses the credentials (a configuration error), try again only this often; a config reload (SIGHUP) tries at once",
    },
    staleAfterSeconds: {
      type: "integer",
      minimum: 0,
      maximum: 86_400,
      default: 120,
      description: "This long after the hub started, the retained state and Home Assistant configs of modems it has not found (gone while it was down) are cleared; like modems.absentSeconds",
    },
  },
};

/** Applies the schema's defaults (the host may or may not have done it with ajv's useDefaults). */
export function withDefaults(section: Partial<MqttTelemetryConfig> & { url: string }): MqttTelemetryConfig {
  return {
    ...section,
    baseTopic: section.baseTopic ?? "simhive",
    statsSeconds: section.statsSeconds ?? 30,
    includeText: section.includeText ?? false,
    homeassistant: section.homeassistant ?? false,
    homeassistantPrefix: section.homeassistantPrefix ?? "homeassistant",
    commands: section.commands ?? false,
    keepaliveSeconds: section.keepaliveSeconds ?? 30,
    reconnectMaxSeconds: section.reconnectMaxSeconds ?? 60,
    refusedRetrySeconds: section.refusedRetrySeconds ?? 600,
    staleAfterSeconds: section.staleAfterSeconds ?? 120,
  };
}
