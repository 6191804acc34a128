/** Every topic the plugin uses, in one place (documented in README.md). */
export interface Topics {
  root: string;
  status: string;
  stats: string;
  events: string;
  modem(imei: string): string;
  modemSet(imei: string): string;
  modemSetResponse(imei: string): string;
  /** Subscription filter for every modem's command topic. */
  modemSetFilter: string;
  /** The IMEI in a command topic, or undefined when the topic is not one. */
  imeiOfSetTopic(topic: string): string | undefined;
  haStatus: string;
  haConfig(component: string, objectId: string): string;
  /** The Home Assistant node id: the hub's id made safe for a discovery topic. */
  haNode: string;
  /** Filters for the broker's retained copies of this hub's own modem states and discovery configs. */
  ownRetainedFilters: string[];
  /**
   * Whether `topic` is one of this hub's own retained topics: a modem's state
   * (with its IMEI) or a discovery config under the hub's node.
   */
  ownRetained(topic: string): { kind: "modem"; imei: string } | { kind: "discovery" } | undefined;
}

/** Keeps the characters Home Assistant allows in ids ([a-zA-Z0-9_-]). */
export function haSafe(value: string): string {
  return value.replace(/[^a-zA-Z0-9_-]/g, "_");
}

export function topicsFor(baseTopic: string, hubId: string, haPrefix: string): Topics {
  const root = `${baseTopic}/${hubId}`;
  const modemsRoot = `${root}/modems/`;
  const haNode = haSafe(`simhive_${hubId}`);
  return {
    root,
    status: `${root}/status`,
    stats: `${root}/stats`,
    events: `${root}/events`,
    modem: (imei) => `${modemsRoot}${imei}`,
    modemSet: (imei) => `${modemsRoot}${imei}/set`,
    modemSetResponse: (imei) => `${modemsRoot}${imei}/set/response`,
    modemSetFilter: `${modemsRoot}+/set`,
    imeiOfSetTopic: (topic) => {
      if (!topic.startsWith(modemsRoot) || !topic.endsWith("/set")) return undefined;
      const imei = topic.slice(modemsRoot.length, -"/set".length);
      return imei.length > 0 && !imei.includes("/") ? imei : undefined;
    },
    haStatus: `${haPrefix}/status`,
    haConfig: (component, objectId) => `${haPrefix}/${component}/${haNode}/${haSafe(objectId)}/config`,
    haNode,
    ownRetainedFilters: [`${modemsRoot}+`, `${haPrefix}/+/${haNode}/#`],
    ownRetained: (topic) => {
      if (topic.startsWith(modemsRoot)) {
        const imei = topic.slice(modemsRoot.length);
        return isTopicSafeImei(imei) ? { kind: "modem", imei } : undefined;
      }
      const levels = topic.split("/");
      return levels.length >= 4 && levels[0] === haPrefix && levels[2] === haNode ? { kind: "discovery" } : undefined;
    },
  };
}

/** An IMEI usable as one topic level (digits in practice; anything else is refused). */
export function isTopicSafeImei(imei: string | undefined): imei is string {
  return typeof imei === "string" && /^[0-9A-Za-z_-]{1,32}$/.test(imei);
}

export class TopicError extends Error {
  readonly code = "SIMHIVE_ERR_MQTT_TOPIC";
}

/** Throws on a topic a publisher must never use: wildcards, empty levels, control characters. */
export function assertPublishTopic(topic: string): void {
  const hasControl = [...topic].some((char) => char.charCodeAt(0) < 0x20);
  if (topic.length === 0 || hasControl || /[#+]/.test(topic) || topic.split("/").some((level) => level.length === 0)) {
    throw new TopicError(`refusing to publish on ${JSON.stringify(topic)}: wildcards, empty levels and control characters are not allowed`);
  }
}
