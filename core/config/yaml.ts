import { isMap, isScalar, LineCounter, parseDocument } from "yaml";
import { SimhiveError } from "../errors.ts";

/**
 * Where a config path is in the file, for error messages: the line of its
 * key, `exact` when the path itself is there, else the line of the deepest
 * part of it that is (a missing key's section).
 */
export type Locate = (path: string) => { line: number; exact: boolean } | undefined;

/** Parses YAML text; syntax errors are reported with line and column. */
export function parseYaml(text: string, file: string): { data: unknown; locate: Locate } {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { prettyErrors: true, uniqueKeys: true, lineCounter });
  if (document.errors.length > 0) {
    const details = document.errors.map((e) => {
      const position = e.linePos?.[0];
      return `${position ? `line ${position.line}, column ${position.col}` : "(somewhere)"}: ${e.message.split("\n")[0]?.replace(/ at line \d+, column \d+:?$/, "")}`;
    });
    throw new SimhiveError("SIMHIVE_ERR_CONFIG", `${file}: not valid YAML`, { details });
  }
  const locate: Locate = (path) => {
    const keys = path.replace(/\[(\d+)\]/g, ".$1").split(".").filter(Boolean);
    // The deepest node that exists on the path: an unknown key's own line, else its parent's.
    for (let depth = keys.length; depth > 0; depth--) {
      const parentKeys = keys.slice(0, depth - 1);
      const parent = parentKeys.length ? document.getIn(parentKeys, true) : document.contents;
      const last = keys[depth - 1] as string;
      let range: [number, number, number] | undefined;
      if (isMap(parent)) {
        const pair = parent.items.find((item) => isScalar(item.key) && String(item.key.value) === last);
        range = (pair?.key as { range?: [number, number, number] } | undefined)?.range;
      } else {
        range = (document.getIn([...parentKeys, /^\d+$/.test(last) ? Number(last) : last], true) as { range?: [number, number, number] } | undefined)?.range;
      }
      if (range) return { line: lineCounter.linePos(range[0]).line, exact: depth === keys.length };
    }
    return undefined;
  };
  return { data: document.toJS() ?? {}, locate };
}
