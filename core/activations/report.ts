import { MessageRepository } from "../store/messages.ts";
import type { Store } from "../store/store.ts";
import type { SmsMessage } from "../types.ts";
import { outboxSublevel } from "./outbox.ts";
import type { Activation, ActivationState, PushJob } from "./types.ts";

/**
 * The operator's view (`simhive activations`, `simhive sms`): recent
 * activations and messages with their state, read from an open store. When a
 * partner says "the code never came", this is where the operator looks: the
 * filter decision, push attempts, the partner's last answer, the stop reason.
 * SMS texts are hidden unless `showText` is set.
 */

export interface ActivationRow {
  activationId: number;
  marketplace: string;
  msisdn: string;
  service: string;
  state: ActivationState;
  createdAt: string;
  finishedAt?: string;
  finish?: string;
  messages: number;
  pushed: number;
  pushPending: number;
  pushStopped: number;
}

export interface SmsRow {
  messageId: string;
  receivedAt: string;
  msisdn: string;
  iccid: string;
  sender: string;
  parts: string;
  route: string;
  activationId?: number;
  marketplace?: string;
  reason?: string;
  push?: string;
  attempts?: number;
  lastAnswer?: string;
  stopReason?: string;
  text?: string;
}

export interface ActivationsReportOptions {
  limit?: number;
  marketplace?: string;
  state?: ActivationState;
  /** How many recent messages to look through for the per-activation counts. */
  messageScan?: number;
}

export interface SmsReportOptions {
  limit?: number;
  msisdn?: string;
  activationId?: number;
  showText?: boolean;
}

function iso(ms: number | undefined): string {
  return ms === undefined ? "" : new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

async function jobFor(store: Store, cache: Map<string, Map<string, PushJob>>, marketplace: string, messageId: string): Promise<PushJob | undefined> {
  let jobs = cache.get(marketplace);
  if (!jobs) {
    jobs = new Map();
    cache.set(marketplace, jobs);
  }
  if (!jobs.has(messageId)) {
    const job = await outboxSublevel(store, marketplace).get(messageId);
    if (job) jobs.set(messageId, job);
  }
  return jobs.get(messageId);
}

export async function activationRows(store: Store, options: ActivationsReportOptions = {}): Promise<ActivationRow[]> {
  const limit = options.limit ?? 50;
  const activations: Activation[] = [];
  for await (const activation of store.sub<Activation>("activations").values({ reverse: true })) {
    if (options.marketplace !== undefined && activation.marketplace !== options.marketplace) continue;
    if (options.state !== undefined && activation.state !== options.state) continue;
    activations.push(activation);
    if (activations.length >= limit) break;
  }
  const rows = new Map<number, ActivationRow>();
  for (const activation of activations) {
    rows.set(activation.activationId, {
      activationId: activation.activationId,
      marketplace: activation.marketplace,
      msisdn: activation.msisdn,
      service: activation.service,
      state: activation.state,
      createdAt: iso(activation.createdAt),
      ...(activation.finishedAt === undefined ? {} : { finishedAt: iso(activation.finishedAt) }),
      ...(activation.finishReason === undefined ? {} : { finish: `${activation.finishStatus ?? ""} ${activation.finishReason}`.trim() }),
      messages: 0,
      pushed: 0,
      pushPending: 0,
      pushStopped: 0,
    });
  }
  const repository = new MessageRepository(store);
  const jobs = new Map<string, Map<string, PushJob>>();
  const recent = await repository.listRecent(options.messageScan ?? 2_000, (m) => m.route !== undefined && "activationId" in m.route && rows.has(m.route.activationId));
  for (const message of recent) {
    const route = message.route;
    if (!route || !("activationId" in route)) continue;
    const row = rows.get(route.activationId);
    if (!row) continue;
    row.messages++;
    if (route.state !== "forwarded") continue;
    const job = await jobFor(store, jobs, route.marketplace, message.messageId);
    if (job?.state === "done") row.pushed++;
    else if (job?.state === "given-up") row.pushStopped++;
    else row.pushPending++;
  }
  return [...rows.values()];
}

export async function smsRows(store: Store, options: SmsReportOptions = {}): Promise<SmsRow[]> {
  const repository = new MessageRepository(store);
  const filter = (m: SmsMessage): boolean =>
    (options.msisdn === undefined || m.msisdn === options.msisdn) &&
    (options.activationId === undefined || (m.route !== undefined && "activationId" in m.route && m.route.activationId === options.activationId));
  const messages = await repository.listRecent(options.limit ?? 50, filter);
  const jobs = new Map<string, Map<string, PushJob>>();
  const rows: SmsRow[] = [];
  for (const message of messages) {
    const route = message.route ?? { state: "pending" as const };
    const row: SmsRow = {
      messageId: message.messageId,
      receivedAt: iso(message.receivedAt),
      msisdn: message.msisdn ?? "",
      iccid: message.iccid,
      sender: message.sender,
      parts: `${message.parts}${message.complete ? "" : " (incomplete)"}`,
      route: route.state,
    };
    if ("activationId" in route) row.activationId = route.activationId;
    if ("marketplace" in route) row.marketplace = route.marketplace;
    if ("reason" in route) row.reason = route.reason;
    if (route.state === "forwarded") {
      const job = await jobFor(store, jobs, route.marketplace, message.messageId);
      if (job) {
        row.push = job.state;
        row.attempts = job.attempts;
        if (job.lastAnswer !== undefined) row.lastAnswer = job.lastAnswer;
        if (job.stopReason !== undefined) row.stopReason = job.stopReason;
      } else {
        row.push = "missing";
      }
    }
    if (options.showText) row.text = message.text;
    rows.push(row);
  }
  return rows;
}

/** A plain-text table, columns padded to their widest cell. */
export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((header, column) => Math.max(header.length, ...rows.map((row) => (row[column] ?? "").length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column] ?? 0)))
      .join("  ")
      .trimEnd();
  return [line(headers), ...rows.map(line)].join("\n");
}

/** `simhive activations`: recent activations, newest first. */
export async function listActivations(store: Store, options: ActivationsReportOptions = {}): Promise<string> {
  const rows = await activationRows(store, options);
  if (rows.length === 0) return "no activations";
  return formatTable(
    ["ID", "MARKETPLACE", "NUMBER", "SERVICE", "STATE", "CREATED", "FINISHED", "FINISH", "SMS", "PUSHED", "PENDING", "STOPPED"],
    rows.map((r) => [
      String(r.activationId),
      r.marketplace,
      r.msisdn,
      r.service,
      r.state,
      r.createdAt,
      r.finishedAt ?? "",
      r.finish ?? "",
      String(r.messages),
      String(r.pushed),
      String(r.pushPending),
      String(r.pushStopped),
    ]),
  );
}

/** `simhive sms [--show-text]`: recent messages, newest first, with their route and push state. */
export async function listSms(store: Store, options: SmsReportOptions = {}): Promise<string> {
  const rows = await smsRows(store, options);
  if (rows.length === 0) return "no messages";
  const headers = ["RECEIVED", "NUMBER", "ICCID", "FROM", "PARTS", "ROUTE", "ACTIVATION", "REASON", "PUSH", "ATTEMPTS", "LAST ANSWER", "STOP REASON"];
  if (options.showText) headers.push("TEXT");
  return formatTable(
    headers,
    rows.map((r) => {
      const cells = [
        r.receivedAt,
        r.msisdn,
        r.iccid,
        r.sender,
        r.parts,
        r.route,
        r.activationId === undefined ? "" : String(r.activationId),
        r.reason ?? "",
        r.push ?? "",
        r.attempts === undefined ? "" : String(r.attempts),
        r.lastAnswer ?? "",
        r.stopReason ?? "",
      ];
      if (options.showText) cells.push((r.text ?? "").replace(/\s+/g, " "));
      return cells;
    }),
  );
}
