/**
 * The AT command interpreter: one command line (possibly a chain such as
 * `AT+CMGF=0;+CNMI=2,1,0,0,0`) in, the full response text out, framed the
 * way 3GPP TS 27.007 modems frame it (V1 verbose results).
 */
import type { EmulatedModem } from "./modem.ts";
import { SMS_HANDLERS } from "./sms-commands.ts";
import { cme, intArg, OK, plainError, splitArgs, splitChain, ucs2Hex, type Failure, type Handler } from "./syntax.ts";

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
  340: "no +CNMA acknowledgement expected",
  500: "unknown error",
};

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

const radioOn = (modem: EmulatedModem): boolean => modem.cfun === 1 && modem.isPlugged;

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
  ...SMS_HANDLERS,
]);
