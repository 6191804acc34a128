/**
 * The emulator's SMS commands (TS 27.005): message format, indications,
 * storage, reading, listing and deleting, the message service (+CSMS) and
 * the acknowledgement of directly delivered messages (+CNMA).
 */
import { decodeDeliver, tpduLength } from "../pdu/index.ts";
import type { EmulatedModem } from "./modem.ts";
import { cms, intArg, OK, splitArgs, ucs2Hex, type Handler, type Outcome } from "./syntax.ts";

function textModeStatus(status: "unread" | "read"): string {
  return status === "unread" ? "REC UNREAD" : "REC READ";
}

/** "2024-05-01T12:00:00+03:00" → "24/05/01,12:00:00+12" (quarter hours). */
function textModeTime(scts: string): string {
  const match = /^\d\d(\d\d)-(\d\d)-(\d\d)T(\d\d:\d\d:\d\d)([+-])(\d\d):(\d\d)$/.exec(scts);
  if (!match) return "";
  const [, yy, mm, dd, time, sign, hours = "0", minutes = "0"] = match;
  const quarters = (Number(hours) * 60 + Number(minutes)) / 15;
  return `${yy}/${mm}/${dd},${time}${sign}${String(quarters).padStart(2, "0")}`;
}

/** The lines a stored message shows as in `+CMGR`/`+CMGL`, after the prefix. */
function messageLines(modem: EmulatedModem, head: string, status: "unread" | "read", pdu: string): string[] {
  if (modem.session.cmgf === 0) {
    return [`${head}${status === "unread" ? 0 : 1},,${tpduLength(pdu)}`, pdu];
  }
  const ucs2 = modem.session.cscs === "UCS2";
  try {
    const decoded = decodeDeliver(pdu);
    const sender = decoded.senderType === "international" ? `+${decoded.sender}` : decoded.sender;
    return [
      `${head}"${textModeStatus(status)}","${ucs2 ? ucs2Hex(sender) : sender}",,"${textModeTime(decoded.scts)}"`,
      ucs2 ? ucs2Hex(decoded.text) : decoded.text,
    ];
  } catch {
    return [`${head}"${textModeStatus(status)}","",,""`, ""];
  }
}

const PDU_STAT: Record<string, number> = { "REC UNREAD": 0, "REC READ": 1, "STO UNSENT": 2, "STO SENT": 3, ALL: 4 };

const smsGuard = (modem: EmulatedModem): Outcome | undefined => (modem.simLocked ? cms(311) : undefined);

export const SMS_HANDLERS = new Map<string, Handler>([
  ["+CMGF", (modem, c) => {
    if (c.form === "read") return { lines: [`+CMGF: ${modem.session.cmgf}`] };
    if (c.form === "test") return { lines: ["+CMGF: (0,1)"] };
    const mode = c.form === "exec" ? 0 : intArg(c.args);
    if (mode !== 0 && mode !== 1) return cms(302);
    modem.session.cmgf = mode;
    return OK;
  }],
  ["+CNMI", (modem, c) => {
    if (c.form === "read") return { lines: [`+CNMI: ${modem.session.cnmi.join(",")}`] };
    if (c.form === "test") return { lines: ["+CNMI: (0-2),(0-3),(0,2),(0-2),(0,1)"] };
    const values = splitArgs(c.args).map((value) => (value === "" ? 0 : intArg(value)));
    const limits = [2, 3, 3, 2, 1];
    if (values.length > 5 || values.some((value, i) => value === undefined || value > (limits[i] ?? 0))) return cms(302);
    const next = [...modem.session.cnmi];
    values.forEach((value, i) => (next[i] = value ?? 0));
    modem.session.cnmi = next;
    modem.cnmiChanged();
    return OK;
  }],
  ["+CPMS", (modem, c) => {
    const { used, size } = { used: modem.sim.used, size: modem.sim.size };
    if (c.form === "test") return { lines: ['+CPMS: ("SM"),("SM"),("SM")'] };
    if (modem.simLocked) return cms(311);
    if (c.form === "read") return { lines: [`+CPMS: "SM",${used},${size},"SM",${used},${size},"SM",${used},${size}`] };
    const stores = splitArgs(c.args);
    if (stores.length > 3 || stores.some((store) => !["SM", "ME", "MT"].includes(store.toUpperCase()))) return cms(302);
    return { lines: [`+CPMS: ${used},${size},${used},${size},${used},${size}`] };
  }],
  ["+CMGR", (modem, c) => {
    if (c.form === "test") return OK;
    const guard = smsGuard(modem);
    if (guard) return guard;
    const index = intArg(c.args);
    if (c.form !== "set" || index === undefined || !modem.sim.validIndex(index)) return cms(321);
    const message = modem.sim.get(index);
    if (!message) return OK;
    const lines = messageLines(modem, "+CMGR: ", message.status, message.pdu);
    modem.sim.markRead(index);
    return { lines };
  }],
  ["+CMGL", (modem, c) => {
    if (c.form === "test") return { lines: [modem.session.cmgf === 0 ? "+CMGL: (0-4)" : '+CMGL: ("REC UNREAD","REC READ","STO UNSENT","STO SENT","ALL")'] };
    const guard = smsGuard(modem);
    if (guard) return guard;
    const [arg = ""] = splitArgs(c.args);
    let stat: number | undefined;
    if (modem.session.cmgf === 0) {
      stat = c.form === "exec" ? 0 : intArg(arg);
      if (stat === undefined || stat > 4 || c.args.includes('"')) return cms(304);
    } else {
      stat = c.form === "exec" ? 0 : c.args.includes('"') ? PDU_STAT[arg.toUpperCase()] : undefined;
      if (stat === undefined) return cms(305);
    }
    const lines: string[] = [];
    for (const message of modem.sim.list()) {
      const code = message.status === "unread" ? 0 : 1;
      if (stat !== 4 && stat !== code) continue;
      lines.push(...messageLines(modem, `+CMGL: ${message.index},`, message.status, message.pdu));
      modem.sim.markRead(message.index);
    }
    return { lines };
  }],
  ["+CMGD", (modem, c) => {
    if (c.form === "test") return { lines: [`+CMGD: (1-${modem.sim.size}),(0-4)`] };
    const guard = smsGuard(modem);
    if (guard) return guard;
    const [indexText, flagText] = splitArgs(c.args);
    const index = intArg(indexText);
    const flag = flagText === undefined || flagText === "" ? 0 : intArg(flagText);
    if (c.form !== "set" || index === undefined || flag === undefined || flag > 4) return cms(302);
    if (flag === 0) {
      if (!modem.sim.validIndex(index)) return cms(321);
      if (modem.sim.delete(index)) modem.slotFreed(index);
      return OK;
    }
    for (const message of modem.sim.list()) {
      // Only received messages exist here: flags 1..3 delete read ones, 4 deletes all.
      if (flag === 4 || message.status === "read") {
        modem.sim.delete(message.index);
        modem.slotFreed(message.index);
      }
    }
    return OK;
  }],
  ["+CSMS", (modem, c) => {
    if (c.form === "test") return { lines: ["+CSMS: (0,1)"] };
    if (c.form === "read") return { lines: [`+CSMS: ${modem.session.csms},1,1,1`] };
    const service = intArg(splitArgs(c.args)[0]);
    if (c.form !== "set" || (service !== 0 && service !== 1)) return cms(302);
    modem.session.csms = service;
    return { lines: ["+CSMS: 1,1,1"] };
  }],
  ["+CNMA", (modem, c) => {
    if (c.form === "test") return { lines: ["+CNMA: (0-2)"] };
    // the bare form (or =0) acknowledges; a PDU-mode RP-ACK/RP-ERROR with a PDU is not emulated
    if (c.form === "read" || (c.form === "set" && c.args.trim() !== "0")) return cms(304);
    return modem.acknowledge() ? OK : cms(340);
  }],
]);
