import { describeError } from "../../core/errors.ts";
import type { ModemsView } from "../../core/types.ts";

export const MODEM_ACTIONS = ["reset", "disable", "enable"] as const;
export type ModemAction = (typeof MODEM_ACTIONS)[number];

/** The answer on `<base>/<hubId>/modems/<imei>/set/response` (zigbee2mqtt's response shape). */
export interface CommandResponse {
  status: "ok" | "error";
  data: { imei: string; action?: string };
  error?: string;
  /** Echoed from the request when it carried one. */
  transaction?: string | number;
}

const MAX_REQUEST_BYTES = 4_096;

function parseRequest(payload: Buffer): { action?: unknown; transaction?: unknown } | string {
  if (payload.length > MAX_REQUEST_BYTES) return "request too large";
  const text = payload.toString("utf8").trim();
  // A bare action is accepted too, like `mosquitto_pub -m reset`.
  if ((MODEM_ACTIONS as readonly string[]).includes(text)) return { action: text };
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) return parsed as { action?: unknown; transaction?: unknown };
  } catch {
    // fall through
  }
  return 'payload must be JSON like {"action":"reset","transaction":"42"}';
}

/** Runs one command request; never throws, always answers. */
export async function handleCommand(modems: ModemsView, imei: string, payload: Buffer): Promise<CommandResponse> {
  const request = parseRequest(payload);
  if (typeof request === "string") return { status: "error", data: { imei }, error: request };
  const transaction =
    typeof request.transaction === "string" || typeof request.transaction === "number" ? request.transaction : undefined;
  const withTransaction = (response: CommandResponse): CommandResponse =>
    transaction === undefined ? response : { ...response, transaction };
  const action = request.action;
  if (typeof action !== "string" || !(MODEM_ACTIONS as readonly string[]).includes(action)) {
    return withTransaction({ status: "error", data: { imei }, error: `action must be one of ${MODEM_ACTIONS.join(", ")}` });
  }
  if (!modems.get(imei)) return withTransaction({ status: "error", data: { imei, action }, error: `no modem with IMEI ${imei}` });
  try {
    await modems.command(imei, action as ModemAction);
    return withTransaction({ status: "ok", data: { imei, action } });
  } catch (error) {
    return withTransaction({ status: "error", data: { imei, action }, error: describeError(error) });
  }
}
