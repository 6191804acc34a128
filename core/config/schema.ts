import { hostname } from "node:os";
import type { JsonSchema } from "../plugins.ts";
import { timerMaximum } from "../timers.ts";

/** The core sections of the config file. Plugins' sections are checked against their own schemas. */
export function coreSchema(sections: { modems: JsonSchema; activations: JsonSchema }): JsonSchema {
  return {
    type: "object",
    additionalProperties: false,
    properties: {
      hub: {
        type: "object",
        default: {},
        additionalProperties: false,
        description: "The hub itself.",
        properties: {
          id: {
            type: "string",
            pattern: "^[A-Za-z0-9_.-]{1,64}$",
            default: hostname().replace(/[^A-Za-z0-9_.-]/g, "-").slice(0, 64) || "simhive",
            "x-default-doc": "the host name",
            description: "Name of this hub in MQTT topics and logs.",
          },
          dataDir: { type: "string", minLength: 1, default: "/var/lib/simhive", description: "Where the LevelDB store lives." },
          retentionDays: {
            type: "number",
            exclusiveMinimum: 0,
            default: 90,
            description: "Messages and closed activations older than this are pruned in the background.",
          },
          pruneIntervalMinutes: { type: "number", exclusiveMinimum: 0, maximum: timerMaximum(60_000), default: 360, description: "How often retention runs." },
          pluginDirs: {
            type: "array",
            items: { type: "string", minLength: 1 },
            default: [],
            description: "Extra folders holding plugins (<dir>/<name>/index.ts or .js), searched after the built-in plugins/. Relative to the config file.",
          },
          shutdownTimeoutSeconds: {
            type: "number",
            exclusiveMinimum: 0,
            maximum: timerMaximum(1000),
            default: 5,
            description: "SIGTERM: time to finish in-flight requests and stop before exiting anyway.",
          },
        },
      },
      http: {
        type: "object",
        default: {},
        additionalProperties: false,
        description: "The HTTP server the marketplaces call.",
        properties: {
          host: { type: "string", default: "0.0.0.0", description: "Address to listen on." },
          port: { type: "integer", minimum: 0, maximum: 65535, default: 8080, description: "Port to listen on (0 = any free port)." },
          bodyLimitBytes: { type: "integer", minimum: 1024, default: 1048576, description: "Largest accepted request body, after gzip decoding; larger gets 413." },
          requestTimeoutSeconds: { type: "number", exclusiveMinimum: 0, maximum: timerMaximum(1000), default: 10, description: "A request still running after this is cut off." },
          trustProxy: { type: "boolean", default: false, description: "Take the client address from X-Forwarded-For (behind a reverse proxy)." },
          tls: {
            type: "object",
            additionalProperties: false,
            required: ["cert", "key"],
            description: "Serve HTTPS directly; the files are read again on SIGHUP.",
            properties: {
              cert: { type: "string", minLength: 1, description: "PEM certificate chain file." },
              key: { type: "string", minLength: 1, description: "PEM private key file." },
            },
          },
        },
      },
      log: {
        type: "object",
        default: {},
        additionalProperties: false,
        description: "Logging (JSON lines to stdout; journald keeps them).",
        properties: {
          level: { enum: ["fatal", "error", "warn", "info", "debug", "trace", "silent"], default: "info", description: "Least severe level written." },
        },
      },
      debug: {
        type: "object",
        default: {},
        additionalProperties: false,
        description: "Options for debugging; off in production.",
        properties: {
          logSmsText: { type: "boolean", default: false, description: "Write SMS texts into debug logs. Texts carry verification codes: leave off." },
        },
      },
      modems: { ...sections.modems, default: {}, description: "The modems: where to find them and how to treat them." },
      activations: { ...sections.activations, default: {}, description: "Reservations shared by every marketplace plugin." },
      plugins: {
        type: "object",
        default: {},
        description: "Plugins by name; each section has `enabled` and the plugin's own keys.",
        additionalProperties: {
          type: "object",
          required: ["enabled"],
          properties: { enabled: { type: "boolean", description: "Load this plugin." } },
        },
      },
    },
  };
}
