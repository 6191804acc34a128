import type { HubInfo } from "../../core/plugins.ts";
import type { ModemInfo } from "../../core/types.ts";
import { haSafe, type Topics } from "./topics.ts";

/** An entity id's object part: lowercase letters, digits and single underscores (what HA's slugify makes of an object_id). */
function entitySlug(id: string): string {
  return id.toLowerCase().replace(/[^a-z0-9]+/g, "_").replace(/^_+|_+$/g, "");
}

/** One retained discovery message: `<prefix>/<component>/<node>/<object>/config`. */
export interface DiscoveryMessage {
  topic: string;
  config: Record<string, unknown>;
}

interface Sensor {
  objectId: string;
  name: string;
  stateTopic: string;
  valueTemplate: string;
  extra: Record<string, unknown>;
}

/**
 * Home Assistant MQTT discovery, zigbee2mqtt's way: every entity carries a
 * `unique_id`, a `device` (modems are linked to the hub with `via_device`), an
 * `origin`, and an `availability` list tied to the hub's retained status topic.
 */
export class Discovery {
  readonly #topics: Topics;
  readonly #hub: HubInfo;

  constructor(topics: Topics, hub: HubInfo) {
    this.#topics = topics;
    this.#hub = hub;
  }

  get hubDeviceId(): string {
    return this.#topics.haNode;
  }

  #common(): Record<string, unknown> {
    return {
      origin: { name: "simhive", sw_version: this.#hub.version },
      availability: [{ topic: this.#topics.status, payload_available: "online", payload_not_available: "offline" }],
      availability_mode: "all",
    };
  }

  #hubDevice(): Record<string, unknown> {
    return {
      identifiers: [this.hubDeviceId],
      name: `simhive ${this.#hub.id}`,
      manufacturer: "simhive",
      model: "SMS hub",
      sw_version: this.#hub.version,
    };
  }

  #message(sensor: Sensor, device: Record<string, unknown>): DiscoveryMessage {
    const uniqueId = haSafe(`${this.#topics.haNode}_${sensor.objectId}`);
    return {
      topic: this.#topics.haConfig("sensor", sensor.objectId),
      config: {
        name: sensor.name,
        unique_id: uniqueId,
        // The entity id HA suggests when it first adds the entity. default_entity_id since HA 2025.10
        // (object_id deprecated then, ignored from 2026.4); object_id kept for older HA.
        default_entity_id: `sensor.${entitySlug(uniqueId)}`,
        object_id: uniqueId,
        state_topic: sensor.stateTopic,
        value_template: sensor.valueTemplate,
        device,
        ...this.#common(),
        ...sensor.extra,
      },
    };
  }

  /** The hub's own sensors: available numbers and outbox pending, from the stats topic. */
  hubMessages(): DiscoveryMessage[] {
    const device = this.#hubDevice();
    const stats = this.#topics.stats;
    return [
      this.#message(
        {
          objectId: "numbers_available",
          name: "Available numbers",
          stateTopic: stats,
          valueTemplate: "{{ value_json.numbers.available }}",
          extra: { state_class: "measurement", icon: "mdi:sim" },
        },
        device,
      ),
      this.#message(
        {
          objectId: "outbox_pending",
          name: "Outbox pending",
          stateTopic: stats,
          valueTemplate: "{{ value_json.outbox.pending }}",
          extra: { state_class: "measurement", icon: "mdi:tray-full" },
        },
        device,
      ),
    ];
  }

  /** Topics of one modem's discovery messages (for removal). */
  modemTopics(imei: string): string[] {
    return this.modemMessages({ imei, port: "", state: "absent", reconnects: 0, updatedAt: 0 }).map((m) => m.topic);
  }

  /** Signal and state sensors of one modem, read from its retained state topic. */
  modemMessages(modem: ModemInfo & { imei: string }): DiscoveryMessage[] {
    const device = {
      identifiers: [haSafe(`${this.#topics.haNode}_modem_${modem.imei}`)],
      name: `Modem ${modem.imei}`,
      manufacturer: "simhive",
      model: "GSM modem",
      serial_number: modem.imei,
      via_device: this.hubDeviceId,
    };
    const stateTopic = this.#topics.modem(modem.imei);
    return [
      this.#message(
        {
          objectId: `modem_${modem.imei}_signal`,
          name: "Signal",
          stateTopic,
          valueTemplate: "{{ value_json.signal }}",
          extra: { device_class: "signal_strength", unit_of_measurement: "dBm", state_class: "measurement", entity_category: "diagnostic" },
        },
        device,
      ),
      this.#message(
        {
          objectId: `modem_${modem.imei}_state`,
          name: "State",
          stateTopic,
          valueTemplate: "{{ value_json.state }}",
          extra: { icon: "mdi:cellphone-wireless" },
        },
        device,
      ),
    ];
  }
}
