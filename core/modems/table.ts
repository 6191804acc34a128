import type { ModemInfo } from "../types.ts";

const COLUMNS: { title: string; cell(m: ModemInfo): string }[] = [
  { title: "PORT", cell: (m) => shortPort(m.port) },
  { title: "IMEI", cell: (m) => m.imei ?? "-" },
  { title: "ICCID", cell: (m) => m.iccid ?? "-" },
  { title: "STATE", cell: (m) => m.state },
  { title: "SIGNAL", cell: (m) => (m.signalDbm === undefined ? "-" : `${m.signalDbm} dBm`) },
  { title: "REG", cell: (m) => m.registration ?? "-" },
  { title: "NUMBER", cell: (m) => (m.msisdn ? `+${m.msisdn}` : "-") },
  { title: "OPERATOR", cell: (m) => [m.country, m.operator].filter(Boolean).join("/") || "-" },
  { title: "SMS", cell: (m) => (m.storageTotal === undefined ? "-" : `${m.storageUsed ?? 0}/${m.storageTotal}`) },
  { title: "REASON", cell: (m) => m.reason ?? "" },
];

/** `/dev/serial/by-path/platform-3f980000.usb-usb-0:1.2:1.0-port0` → `usb-0:1.2:1.0-port0`: the USB location is what tells modems apart. */
function shortPort(port: string): string {
  const usb = /(usb-\d+:[\d.]+:[\d.]+.*)$/.exec(port);
  return usb?.[1] ?? port;
}

/** The `simhive modems` table: one line per modem, aligned columns, no SMS content. */
export function formatModemTable(modems: readonly ModemInfo[]): string {
  if (modems.length === 0) return "no modems found (check modems.ports and `ls /dev/serial/by-path/`)\n";
  const rows = [...modems].sort((a, b) => a.port.localeCompare(b.port)).map((m) => COLUMNS.map((c) => c.cell(m)));
  const widths = COLUMNS.map((c, i) => Math.max(c.title.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  const ready = modems.filter((m) => m.state === "ready").length;
  return `${[line(COLUMNS.map((c) => c.title)), ...rows.map(line)].join("\n")}\n${ready}/${modems.length} ready\n`;
}
