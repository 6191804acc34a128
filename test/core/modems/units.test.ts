import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Ajv } from "ajv";
import { isSimhiveError } from "../../../core/errors.ts";
import { modemsConfigSchema, resolveModemsConfig } from "../../../core/modems/config.ts";
import { backoffMs, globBase, Limiter, matchesGlob } from "../../../core/modems/discovery.ts";
import { normalizeMsisdn, registrationFromCreg } from "../../../core/modems/identity.ts";
import { formatModemTable } from "../../../core/modems/index.ts";
import { operatorFromImsi } from "../../../core/modems/operators.ts";
import { csqToDbm, decodeUssdText, parseCnum, parseCpms, parseIccid } from "../../../core/modems/responses.ts";
import { isUnsolicited } from "../../../core/modems/urc.ts";

describe("modem identity and parsing", () => {
  it("maps CSQ to dBm (TS 27.007 §8.5)", () => {
    assert.equal(csqToDbm(0), -113);
    assert.equal(csqToDbm(1), -111);
    assert.equal(csqToDbm(20), -73);
    assert.equal(csqToDbm(31), -51);
    assert.equal(csqToDbm(99), undefined);
  });

  it("maps MCC/MNC to the marketplace's country and operator names", () => {
    assert.deepEqual(operatorFromImsi("250010123456789"), { country: "russia", operator: "mts" });
    assert.deepEqual(operatorFromImsi("250020123456789"), { country: "russia", operator: "megafon" });
    assert.deepEqual(operatorFromImsi("250990123456789"), { country: "russia", operator: "beeline" });
    assert.deepEqual(operatorFromImsi("250200123456789"), { country: "russia", operator: "tele2" });
    assert.deepEqual(operatorFromImsi("250110123456789"), { country: "russia", operator: "yota" });
    assert.deepEqual(operatorFromImsi("401070123456789"), { country: "kazakhstan", operator: "altel" });
    assert.deepEqual(operatorFromImsi("255030123456789"), { country: "ukraine", operator: "kyivstar" });
    assert.deepEqual(operatorFromImsi("257040123456789"), { country: "belorussia", operator: "life" });
    assert.deepEqual(operatorFromImsi("250770123456789"), { country: "russia" }, "unknown MNC: country only");
    assert.equal(operatorFromImsi("999990123456789"), undefined);
  });

  it("normalises numbers to digits with country code", () => {
    assert.equal(normalizeMsisdn("+7 (916) 123-45-67"), "79161234567");
    assert.equal(normalizeMsisdn("89161234567", "russia"), "79161234567");
    assert.equal(normalizeMsisdn("9161234567", "russia"), "79161234567");
    assert.equal(normalizeMsisdn("0671234567", "ukraine"), "380671234567");
    assert.equal(normalizeMsisdn("12"), undefined);
  });

  it("parses registration, CPMS, CNUM, ICCID and UCS2 USSD answers (CMGL/CMGR: responses.test.ts)", () => {
    assert.equal(registrationFromCreg(1), "home");
    assert.equal(registrationFromCreg(5), "roaming");
    assert.equal(registrationFromCreg(3), "denied");
    assert.deepEqual(parseCpms(['+CPMS: "SM",3,30,"SM",3,30,"SM",3,30']), { used: 3, total: 30 });
    assert.deepEqual(parseCpms(["+CPMS: 0,30,0,30,0,30"]), { used: 0, total: 30 });
    assert.equal(parseCnum(['+CNUM: "","+79161234567",145']), "79161234567");
    assert.equal(parseCnum(["+CNUM: ,,"]), undefined);
    assert.equal(parseIccid(["+CCID: 8970101234567890123F"]), "8970101234567890123");
    assert.equal(parseIccid(["^ICCID: 89701012345678901234"]), "89701012345678901234");
    assert.equal(decodeUssdText("04120430044800200020043D043E043C043504400020002B0037", 72), "Ваш  номер +7");
    assert.equal(decodeUssdText("Vash nomer +79161234567", 15), "Vash nomer +79161234567");
  });

  it("tells unsolicited lines from replies by the command in flight", () => {
    assert.equal(isUnsolicited('+CMTI: "SM",1', "AT+CSQ"), true);
    assert.equal(isUnsolicited("+CREG: 1", "AT+CSQ"), true);
    assert.equal(isUnsolicited("+CREG: 1,1", "AT+CSQ;+CREG?"), false);
    assert.equal(isUnsolicited("+CSQ: 20,99", "AT+CSQ"), false);
    assert.equal(isUnsolicited("+CUSD: 0,\"x\",15", 'AT+CUSD=1,"*100#",15'), true);
  });

  it("matches port globs and finds the directory to watch", () => {
    assert.equal(matchesGlob("/dev/serial/by-path/*", "/dev/serial/by-path/platform-3f980000.usb-usb-0:1.2:1.0-port0"), true);
    assert.equal(matchesGlob("/dev/serial/by-path/*", "/dev/ttyUSB0"), false);
    assert.equal(matchesGlob("/dev/ttyUSB?", "/dev/ttyUSB3"), true);
    assert.equal(globBase("/dev/serial/by-path/*"), "/dev/serial/by-path");
  });
});

describe("discovery helpers", () => {
  it("Limiter: at most N at once; a waiting urgent task starts before the others", async () => {
    const limiter = new Limiter(2);
    const started: string[] = [];
    const gates = new Map<string, () => void>();
    const task = (name: string, urgent = false) =>
      limiter.run(async () => {
        started.push(name);
        await new Promise<void>((resolve) => gates.set(name, resolve));
      }, urgent);
    const all = [task("a"), task("b"), task("later"), task("urgent", true)];
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(started, ["a", "b"]);
    gates.get("a")?.();
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(started, ["a", "b", "urgent"]);
    gates.get("b")?.();
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(started, ["a", "b", "urgent", "later"]);
    gates.get("urgent")?.();
    gates.get("later")?.();
    await Promise.all(all);
  });

  it("backoffMs doubles from the first delay up to the cap", () => {
    assert.deepEqual([0, 1, 2, 3, 4, 5, 6].map((n) => backoffMs(n, 10_000, 160_000)), [10_000, 20_000, 40_000, 80_000, 160_000, 160_000, 160_000]);
    assert.equal(backoffMs(1000, 1000, 300_000), 300_000);
  });
});

describe("modems config", () => {
  it("is a draft-07 schema with defaults that rejects unknown keys", () => {
    const config = resolveModemsConfig({});
    assert.deepEqual(config.ports, ["/dev/serial/by-path/*"]);
    assert.equal(config.sweepSeconds, 30);
    assert.equal(config.multipartTimeoutSeconds, 600);
    assert.deepEqual(config.numbers, {});
    assert.throws(
      () => resolveModemsConfig({ sweepSecs: 5 } as never),
      (error: unknown) => isSimhiveError(error, "SIMHIVE_ERR_CONFIG") && error.details.some((d) => /additional properties/.test(d)),
    );
    assert.throws(() => resolveModemsConfig({ numbers: { "8970199000000000001": "not a number" } }), (error: unknown) => isSimhiveError(error, "SIMHIVE_ERR_CONFIG"));
    // the hub embeds the schema in its own: it must compile on a fresh ajv
    const ajv = new Ajv({ useDefaults: true, strict: false });
    const section: Record<string, unknown> = { emulator: { count: 2 } };
    assert.equal(ajv.validate(modemsConfigSchema, section), true);
    assert.deepEqual(section.emulator, { count: 2, storageSize: 30, cnumEvery: 2, pathPrefix: "/emu/by-path/" });
  });
});

describe("simhive modems table", () => {
  it("shows port, identity, state, signal, number and operator", () => {
    const table = formatModemTable([
      { port: "/dev/serial/by-path/platform-3f980000.usb-usb-0:1.2:1.0-port0", imei: "860000000000017", iccid: "89701990000000000017", msisdn: "79000000001", country: "russia", operator: "mts", state: "ready", signalDbm: -73, registration: "home", storageUsed: 0, storageTotal: 30, reconnects: 0, updatedAt: 0 },
      { port: "/dev/serial/by-path/platform-3f980000.usb-usb-0:1.3:1.0-port0", state: "sim-error", reason: "no SIM inserted", reconnects: 0, updatedAt: 0 },
    ]);
    const lines = table.trimEnd().split("\n");
    assert.match(lines[0] ?? "", /^PORT\s+IMEI\s+ICCID\s+STATE\s+SIGNAL\s+REG\s+NUMBER\s+OPERATOR/);
    assert.match(lines[1] ?? "", /usb-0:1\.2:1\.0-port0\s+860000000000017\s+89701990000000000017\s+ready\s+-73 dBm\s+home\s+\+79000000001\s+russia\/mts/);
    assert.match(lines[2] ?? "", /sim-error.*no SIM inserted/);
    assert.equal(lines[3], "1/2 ready");
    assert.match(formatModemTable([]), /no modems found/);
  });
});
