import { parseArgs } from "node:util";
import { type HubConfig, type LoadedConfig, findConfigPath, formatConfigError, loadConfigFile } from "./config/load.ts";
import { describeError, isSimhiveError } from "./errors.ts";
import { formatModemTable } from "./modems/table.ts";
import { createLogger } from "./log.ts";
import { SystemdNotifier } from "./notify.ts";
import { VERSION } from "./version.ts";

const USAGE = `simhive ${VERSION}: an SMS hub for USB GSM modems

usage: simhive <command> [--config FILE]

commands:
  start         run the hub (config: --config, then $SIMHIVE_CONFIG, then /etc/simhive/config.yaml)
  check         validate the config file and exit (non-zero on errors); touches no hardware
  modems        table of modems: port, identity, state, signal, number (from the running hub, else probed directly)
  demo          the whole flow on emulated modems with a partner stub   [--modems N] [--port P] [--exit]
  activations   recent activations of the running hub   [--limit N]
  sms           recent messages of the running hub      [--limit N] [--show-text]
  version       print the version
`;

type Exit = number;

async function load(configArg: string | undefined): Promise<LoadedConfig> {
  return loadConfigFile(findConfigPath(configArg));
}

function reportConfigError(error: unknown): Exit {
  if (isSimhiveError(error, "SIMHIVE_ERR_CONFIG") || isSimhiveError(error, "SIMHIVE_ERR_CONFIG_NOT_FOUND")) {
    process.stderr.write(`${formatConfigError(error)}\n`);
    return 2;
  }
  throw error;
}

async function check(configArg: string | undefined): Promise<Exit> {
  try {
    const loaded = await load(configArg);
    const plugins = loaded.plugins.map((p) => p.name);
    process.stdout.write(`${loaded.file}: config OK (plugins: ${plugins.length ? plugins.join(", ") : "none"})\n`);
    return 0;
  } catch (error) {
    return reportConfigError(error);
  }
}

async function start(configArg: string | undefined): Promise<Exit> {
  let loaded: LoadedConfig;
  try {
    loaded = await load(configArg);
  } catch (error) {
    return reportConfigError(error);
  }
  const log = createLogger({ level: loaded.config.log.level });
  const notifier = new SystemdNotifier(log);
  process.on("uncaughtException", (error) => {
    log.fatal({ err: error }, "uncaught exception; exiting so systemd restarts the hub");
    process.exit(1);
  });
  process.on("unhandledRejection", (reason) => {
    log.fatal({ err: reason }, "unhandled promise rejection; exiting so systemd restarts the hub");
    process.exit(1);
  });
  // Loaded here, not at the top: `check` and `version` need none of the hub's modules.
  const { Hub } = await import("./hub.ts");
  // Signals are handled from before the hub starts: systemd may send SIGTERM
  // right after READY=1, which the hub sends before Hub.start returns. A stop
  // asked for while starting runs as soon as the start is over.
  let hub: Awaited<ReturnType<typeof Hub.start>> | undefined;
  let requested: string | undefined;
  let finish: (code: Exit) => void = () => {};
  const finished = new Promise<Exit>((resolve) => {
    finish = resolve;
  });
  const limitMs = loaded.config.hub.shutdownTimeoutSeconds * 1000;
  let force: NodeJS.Timeout | undefined;
  const stopHub = (running: NonNullable<typeof hub>) =>
    running.stop(limitMs - 500).then(() => {
      clearTimeout(force);
      log.flush();
      finish(0);
    });
  const shutdown = (signal: string) => {
    if (requested) {
      log.warn({ signal }, "second signal; exiting now");
      log.flush();
      process.exit(1);
    }
    requested = signal;
    log.info({ signal }, hub ? "stopping" : "stop requested while starting");
    // Bounded from the first signal, whether the hub was running or still starting.
    force = setTimeout(() => {
      log.error({ limitMs }, "stop took too long; exiting anyway");
      log.flush();
      process.exit(1);
    }, limitMs);
    force.unref();
    if (hub) void stopHub(hub); // else the start below sees `requested`
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
  process.on("SIGHUP", () => {
    if (!hub) return log.warn("SIGHUP while starting: ignored");
    log.info("SIGHUP: reloading config");
    void hub.reload();
  });
  try {
    hub = await Hub.start({ loaded, log, notifier });
  } catch (error) {
    const message = isSimhiveError(error) ? error.message : describeError(error);
    log.fatal({ err: isSimhiveError(error) ? undefined : error, code: isSimhiveError(error) ? error.code : undefined }, `hub failed to start: ${message}`);
    process.stderr.write(`simhive: ${message}\n`);
    log.flush();
    return 1;
  }
  if (requested) void stopHub(hub);
  return finished;
}

async function withConfig(configArg: string | undefined, run: (config: HubConfig) => Promise<string>): Promise<Exit> {
  let loaded: LoadedConfig;
  try {
    loaded = await load(configArg);
  } catch (error) {
    return reportConfigError(error);
  }
  try {
    process.stdout.write(`${await run(loaded.config)}\n`);
    return 0;
  } catch (error) {
    process.stderr.write(`simhive: ${isSimhiveError(error) ? error.message : describeError(error)}\n`);
    return 1;
  }
}

export async function main(argv: string[]): Promise<Exit> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: "string", short: "c" },
      limit: { type: "string" },
      "show-text": { type: "boolean" },
      modems: { type: "string" },
      port: { type: "string" },
      exit: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  const command = positionals[0];
  if (values.help || command === undefined || command === "help") {
    process.stdout.write(USAGE);
    return command === undefined && !values.help ? 64 : 0;
  }
  switch (command) {
    case "version":
      process.stdout.write(`${VERSION}\n`);
      return 0;
    case "check":
      return check(values.config);
    case "start":
      return start(values.config);
    case "demo":
      return (await import("./demo.ts")).runDemo({ modems: Math.max(1, Number(values.modems ?? 4) || 4), port: Number(values.port ?? 0) || 0, exit: values.exit === true });
    case "modems":
      return withConfig(values.config, async (config) => {
        const found = await (await import("./cli-admin.ts")).modems(config);
        const table = formatModemTable(found.modems).trimEnd();
        return found.probed ? `${table}\n(no hub is running: the ports were probed directly)` : table;
      });
    case "activations":
    case "sms": {
      const limit = Math.max(1, Number(values.limit ?? 50) || 50);
      return withConfig(values.config, async (config) => (await import("./cli-admin.ts")).report(config, command, { limit, showText: values["show-text"] === true }));
    }
    default:
      process.stderr.write(`simhive: unknown command "${command}"\n\n${USAGE}`);
      return 64;
  }
}
