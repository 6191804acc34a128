/**
 * AT command line syntax for the emulator (V.250 / TS 27.007): a line split
 * into commands, argument lists, and the outcome a handler returns.
 */
import type { EmulatedModem } from "./modem.ts";

export type Failure = { kind: "cme" | "cms" | "plain"; code: number };
export type Outcome = { lines: string[] } | { failure: Failure };

export interface Command {
  /** "+CMGR", "E", "Z", "&F" ... */
  name: string;
  /** "exec" (AT+X), "read" (AT+X?), "test" (AT+X=?), "set" (AT+X=...). */
  form: "exec" | "read" | "test" | "set";
  /** Raw argument text after '=' (set) or the digits of a basic command. */
  args: string;
}

export const OK: Outcome = { lines: [] };
export const cme = (code: number): Outcome => ({ failure: { kind: "cme", code } });
export const cms = (code: number): Outcome => ({ failure: { kind: "cms", code } });
export const plainError: Outcome = { failure: { kind: "plain", code: 0 } };

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
export function splitArgs(args: string): string[] {
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

export function intArg(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d+$/.test(value)) return undefined;
  return Number.parseInt(value, 10);
}

export function ucs2Hex(text: string): string {
  let hex = "";
  for (let i = 0; i < text.length; i++) hex += text.charCodeAt(i).toString(16).toUpperCase().padStart(4, "0");
  return hex;
}

export type Handler = (modem: EmulatedModem, command: Command) => Outcome;
