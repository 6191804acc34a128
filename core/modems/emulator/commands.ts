/**
 * The AT command interpreter: one command line (possibly a chain such as
 * `AT+CMGF=0;+CNMI=2,1,0,0,0`) in, the full response text out, framed the
 * way 3GPP TS 27.007 modems frame it (V1 verbose results).
 */
import { decodeDeliver } from "../pdu/index.ts";
import type { EmulatedModem } from "./modem.ts";
import { tpduLength } from "./storage.ts";

type Failure = { kind: "cme" | "cms" | "plain"; code: number };
type Outcome = { lines: string[] } | { failure: Failure };

interface Command {
  /** "+CMGR", "E", "Z", "&F" ... */
  name: string;
  /** "exec" (AT+X), "read" (AT+X?), "test" (AT+X=?), "set" (AT+X=...). */
  form: "exec" | "read" | "test" | "set";
  /** Raw argument text after '=' (set) or the digits of a basic command. */
  args: string;
}

const OK: Outcome = { lines: [] };
const cme = (code: number): Outcome => ({ failure: { kind: "cme", code } });
const cms = (code: number): Outcome => ({ failure: { kind: "cms", code } });
const plainError: Outcome = { failure: { kind: "plain", code: 0 } };

const CME_TEXT: Record<number, string> = {
  3: "operation not allowed",
  4: "operation not supported",
  10: "SIM not inserted",
  11: "SIM PIN required",
  16: "incorrect password",
  30: "no network service",
  100: "unknown",
};
const CMS_TEXT: Record<number, string> = {
  302: "operation not allowed",
  304: "invalid PDU mode parameter",
  305: "invalid text mode parameter",
  311: "SIM PIN required",
  321: "invalid memory index",
  322: "memory full",
  500: "unknown error",
};

/** Splits the text after "AT" into single commands. */
export function splitChain(body: string): Command[] | undefined {
  const commands: Command[] = [];
  let i = 0;
  while (i < body.length) {
    const char = body[i] ?? "";
    if (char === ";" || char === " ") {
      i++;
      continue;
    }
    if ("+^$%".includes(char)) {
      let end = i + 1;
      let quoted = false;
      while (end < body.length && (quoted || body[end] !== ";")) {
        if (body[end] === '"') quoted = !quoted;
        end++;
      }
      const text = body.slice(i, end);
      const match = /^([+^$%][A-Za-z0-9]+)(=\?|\?|=)?(.*)$/s.exec(text);
      if (!match) return undefined;
      const [, name = "", operator, rest = ""] = match;
      const form = operator === "=?" ? "test" : operator === "?" ? "read" : operator === "=" ? "set" : "exec";
      if (form !== "set" && rest.trim() !== "") return undefined;
      commands.push({ name: name.toUpperCase(), form, args: rest.trim() });
      i = end;
      continue;
    }
    const basic = /^(&?[A-Za-z])(\d*)/.exec(body.slice(i));
    if (!basic) return undefined;
    const [whole, name = "", digits = ""] = basic;
    commands.push({ name: name.toUpperCase(), form: body[i + whole.length] === "?" ? "read" : "exec", args: digits });
    i += whole.length + (body[i + whole.length] === "?" ? 1 : 0);
  }
  return commands;
}

/** Comma-separated arguments, quotes removed. */
function splitArgs(args: string): string[] {
  const out: string[] = [];
  let current = "";
  let quoted = false;
  for (const char of args) {
    if (char === '"') quoted = !quoted;
    else if (char === "," && !quoted) {
      out.push(current.trim());
      current = "";
    } else current += char;
  }
  out.push(current.trim());
  return out;
}

function intArg(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d+$/.test(value)) return undefined;
  return Number.parseInt(value, 10);
}

function ucs2Hex(text: string): string {
  let hex = "";
  for (let i = 0; i < text.length; i++) hex += text.charCodeAt(i).toString(16).toUpperCase().padStart(4, "0");
  return hex;
}

function failureText(modem: EmulatedModem, failure: Failure): string {
  const mode = modem.session.cmee;
  if (failure.kind === "plain" || mode === 0) return "ERROR";
  const prefix = failure.kind === "cme" ? "+CME ERROR" : "+CMS ERROR";
  if (mode === 2) {
    const text = (failure.kind === "cme" ? CME_TEXT : CMS_TEXT)[failure.code];
    if (text) return `${prefix}: ${text}`;
  }
  return `${prefix}: ${failure.code}`;
}

/** Executes one command line and returns everything the modem answers (without the echo). */
export function executeLine(modem: EmulatedModem, line: string): string {
  const commands = splitChain(line.slice(2));
  if (!commands) return "\r\nERROR\r\n";
  let response = "";
  for (const command of commands) {
    modem.countCommand(command.name);
    const outcome = (HANDLERS.get(command.name) ?? (() => plainError))(modem, command);
    if ("failure" in outcome) return `${response}\r\n${failureText(modem, outcome.failure)}\r\n`;
    if (outcome.lines.length > 0) response += `\r\n${outcome.lines.join("\r\n")}\r\n`;
  }
  return `${response}\r\nOK\r\n`;
}

type Handler = (modem: EmulatedModem, command: Command) => Outcome;

const radioOn = (modem: EmulatedModem): boolean => modem.cfun === 1 && modem.isPlugged;

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

const HANDLERS = new Map<string, Handler>([
  ["", () => OK],
  ["Z", (modem) => (modem.resetSession(), OK)],
  ["&F", (modem) => (modem.resetSession(), OK)],
  ["E", (modem, c) => {
    if (c.args !== "" && c.args !== "0" && c.args !== "1") return plainError;
    modem.session.echo = c.args === "1";
    return OK;
  }],
  ["V", (_m, c) => (c.args === "" || c.args === "1" ? OK : plainError)],
  ["Q", (_m, c) => (c.args === "" || c.args === "0" ? OK : plainError)],
  ["H", () => OK],
  ["I", (modem) => ({
    lines: ["Manufacturer: simhive", "Model: EMU-GSM", "Revision: EMU_1.0", `IMEI: ${modem.options.imei}`, "+GCAP: +CGSM"],
  })],
  ["+CGMI", () => ({ lines: ["simhive"] })],
  ["+CGMM", () => ({ lines: ["EMU-GSM"] })],
  ["+CGMR", () => ({ lines: ["EMU_1.0"] })],
  ["+CGSN", (modem, c) => (c.form === "test" ? OK : { lines: [modem.options.imei] })],
  ["+GSN", (modem, c) => (c.form === "test" ? OK : { lines: [modem.options.imei] })],
  ["+CIMI", (modem, c) => (c.form === "test" ? OK : modem.simLocked ? cme(11) : { lines: [modem.options.imsi] })],
  ["+CCID", (modem, c) => (c.form === "test" ? OK : { lines: [`+CCID: ${modem.options.iccid}`] })],
  ["+ICCID", (modem, c) => (c.form === "test" ? OK : { lines: [`+CCID: ${modem.options.iccid}`] })],
  ["+CMEE", (modem, c) => {
    if (c.form === "read") return { lines: [`+CMEE: ${modem.session.cmee}`] };
    if (c.form === "test") return { lines: ["+CMEE: (0-2)"] };
    const mode = c.form === "exec" ? 0 : intArg(c.args);
    if (mode === undefined || mode > 2) return cme(3);
    modem.session.cmee = mode;
    return OK;
  }],
  ["+CPIN", (modem, c) => {
    if (c.form === "read") return { lines: [`+CPIN: ${modem.simLocked ? "SIM PIN" : "READY"}`] };
    if (c.form !== "set") return OK;
    if (!modem.simLocked) return cme(3);
    const [pin] = splitArgs(c.args);
    if (pin !== (modem.options.pin ?? "0000")) return cme(16);
    modem.afterReply(() => modem.unlockSim());
    return OK;
  }],
  ["+CREG", (modem, c) => {
    if (c.form === "test") return { lines: ["+CREG: (0-2)"] };
    if (c.form === "read") {
      const stat = modem.registrationStat();
      const location = modem.session.cregMode === 2 && (stat === 1 || stat === 5) ? ',"00A1","1B2C"' : "";
      return { lines: [`+CREG: ${modem.session.cregMode},${stat}${location}`] };
    }
    const mode = c.form === "exec" ? 0 : intArg(c.args);
    if (mode === undefined || mode > 2) return cme(3);
    modem.session.cregMode = mode;
    return OK;
  }],
  ["+CSQ", (modem, c) => (c.form === "test" ? { lines: ["+CSQ: (0-31,99),(0-7,99)"] } : {
    lines: [radioOn(modem) ? `+CSQ: ${modem.signal},99` : "+CSQ: 99,99"],
  })],
  ["+COPS", (modem, c) => {
    if (c.form === "read") {
      return { lines: [modem.isRegistered ? `+COPS: 0,0,"${modem.options.operator ?? "Emulated"}",2` : "+COPS: 0"] };
    }
    return c.form === "test" ? { lines: [`+COPS: (2,"${modem.options.operator ?? "Emulated"}","","25099",2),,(0-4),(0-2)`] } : OK;
  }],
  ["+CNUM", (modem, c) => {
    if (c.form === "test") return OK;
    if (modem.simLocked) return cme(11);
    const { cnum, msisdn } = modem.options;
    return cnum && msisdn ? { lines: [`+CNUM: "","+${msisdn}",145`] } : OK;
  }],
  ["+CSCS", (modem, c) => {
    if (c.form === "read") return { lines: [`+CSCS: "${modem.session.cscs}"`] };
    if (c.form === "test") return { lines: ['+CSCS: ("IRA","GSM","UCS2")'] };
    const [charset = ""] = splitArgs(c.args);
    if (!["GSM", "IRA", "UCS2", "8859-1"].includes(charset.toUpperCase())) return cme(4);
    modem.session.cscs = charset.toUpperCase();
    return OK;
  }],
  ["+CUSD", (modem, c) => {
    if (c.form === "read") return { lines: ["+CUSD: 1"] };
    if (c.form !== "set") return OK;
    const [n, code] = splitArgs(c.args);
    if (n !== "0" && n !== "1" && n !== "2") return cme(3);
    if (n !== "1" || code === undefined || code === "") return OK;
    if (!modem.isRegistered) return cme(30);
    const reply = modem.options.ussdNumberReply;
    modem.afterReply(() => modem.later(modem.options.ussdDelayMs ?? 20, () => {
      if (reply === undefined) return modem.urc("+CUSD: 4");
      modem.urc(`+CUSD: 0,"${modem.session.cscs === "UCS2" ? ucs2Hex(reply) : reply}",15`);
    }));
    return OK;
  }],
  ["+CLIP", (_m, c) => (c.form === "read" ? { lines: ["+CLIP: 0,1"] } : OK)],
  ["+CFUN", (modem, c) => {
    if (c.form === "read") return { lines: [`+CFUN: ${modem.cfun}`] };
    if (c.form === "test") return { lines: ["+CFUN: (0,1,4),(0,1)"] };
    const [funText, resetText] = splitArgs(c.args);
    const fun = intArg(funText);
    if (fun !== 0 && fun !== 1 && fun !== 4) return cme(3);
    const reset = resetText === "1";
    if (fun === 1 && (modem.cfun !== 1 || reset)) {
      modem.afterReply(() => {
        if (reset) {
          modem.resetSession();
          modem.simLocked = modem.options.pinRequired ?? false;
        }
        modem.radioOn();
      });
    } else if (fun !== 1) {
      modem.cfun = fun;
      modem.afterReply(() => modem.registrationChanged());
    }
    return OK;
  }],
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
]);
