import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decodeDeliver, encodeDeliver, PduError } from "../../../../core/modems/pdu/index.ts";

const isPduError = (error: unknown): boolean => error instanceof PduError && error.code === "SIMHIVE_ERR_PDU";

/** A PDU built from raw fields: SMSC 79000000000, sender 79161234567. */
function rawPdu(fields: { first?: string; dcs: string; udl: string; ud: string }): string {
  return `07919700000000F0${fields.first ?? "04"}0B919761214365F700${fields.dcs}42501021436521${fields.udl}${fields.ud}`;
}

describe("decodeDeliver on data coding schemes", () => {
  it("treats 8-bit data as hex text", () => {
    const decoded = decodeDeliver(rawPdu({ dcs: "04", udl: "03", ud: "DEAD01" }));
    assert.equal(decoded.encoding, "8bit");
    assert.equal(decoded.text, "DEAD01");
  });

  it("reads class 0 from the 1111 group (GSM 7-bit) and general group", () => {
    const f0 = decodeDeliver(rawPdu({ dcs: "F0", udl: "02", ud: "E834" }));
    assert.equal(f0.encoding, "gsm7");
    assert.equal(f0.messageClass, 0);
    assert.equal(f0.text, "hi");
    const ucs2Class0 = decodeDeliver(rawPdu({ dcs: "18", udl: "02", ud: "0416" }));
    assert.equal(ucs2Class0.encoding, "ucs2");
    assert.equal(ucs2Class0.messageClass, 0);
    assert.equal(ucs2Class0.text, "Ж");
  });

  it("decodes message-waiting groups (GSM 7-bit and UCS2)", () => {
    assert.equal(decodeDeliver(rawPdu({ dcs: "C8", udl: "02", ud: "E834" })).text, "hi");
    assert.equal(decodeDeliver(rawPdu({ dcs: "D0", udl: "02", ud: "E834" })).text, "hi");
    const e = decodeDeliver(rawPdu({ dcs: "E0", udl: "02", ud: "0416" }));
    assert.equal(e.encoding, "ucs2");
    assert.equal(e.text, "Ж");
  });

  it("treats a reserved coding group as 8-bit with hex text", () => {
    const decoded = decodeDeliver(rawPdu({ dcs: "84", udl: "02", ud: "E834" }));
    assert.equal(decoded.encoding, "8bit");
    assert.equal(decoded.text, "E834");
  });

  it("ignores a concatenation element with part number 0", () => {
    const decoded = decodeDeliver(rawPdu({ first: "44", dcs: "08", udl: "08", ud: "0500030A02000416" }));
    assert.equal(decoded.udh, undefined);
    assert.equal(decoded.text, "Ж");
  });
});

describe("malformed PDUs throw PduError", () => {
  const valid = encodeDeliver({ sender: "79161234567", text: "x".repeat(200), ref: 9 });
  const cases: [string, string][] = [
    ["empty", ""],
    ["odd length", "0791970"],
    ["non-hex", "07919700000000F0040B91ZZ"],
    ["truncated in the originator", "07919700000000F0040B9197"],
    ["truncated time stamp", "07919700000000F0040B919761214365F700004250"],
    ["user data length past the end", rawPdu({ dcs: "00", udl: "A0", ud: "E834" })],
    ["UCS2 with an odd octet count", rawPdu({ dcs: "08", udl: "03", ud: "041604" })],
    ["header length past the user data", rawPdu({ first: "44", dcs: "04", udl: "03", ud: "090003" })],
    ["information element past the header", rawPdu({ first: "44", dcs: "04", udl: "04", ud: "03000501" })],
    ["SMS-SUBMIT instead of SMS-DELIVER", "0001000B917228001011F100000CC8329BFD065DDF72363904"],
    ["impossible month", "07919700000000F0040B919761214365F700004231102143652102E834"],
    ["SMSC length beyond 12", "FF91"],
  ];
  for (const [name, hex] of cases) {
    it(name, () => {
      assert.throws(() => decodeDeliver(hex), isPduError);
    });
  }

  it("survives random truncations and mutations: decode or PduError, nothing else", () => {
    // Seeded generator so a failure can be replayed.
    let seed = 0x5eed;
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x80000000;
    };
    const corpus = [
      ...valid,
      ...encodeDeliver({ sender: "Telegram", text: "Код 1234 🔥👍".repeat(8), refBits: 16, ref: 4000 }),
      ...encodeDeliver({ sender: "VK", text: "€[]{}|^~\\" }),
      "07917283010010F5040BC87238880900F10000993092516195800AE8329BFD4697D9EC37",
    ];
    let decodedCount = 0;
    let rejected = 0;
    for (let round = 0; round < 20000; round++) {
      const base = corpus[Math.floor(random() * corpus.length)] ?? "";
      let hex = base;
      const action = Math.floor(random() * 4);
      if (action === 0) {
        hex = base.slice(0, Math.floor(random() * base.length));
      } else if (action === 1) {
        const chars = hex.split("");
        for (let n = 0; n < 1 + Math.floor(random() * 4); n++) {
          chars[Math.floor(random() * chars.length)] = "0123456789ABCDEF"[Math.floor(random() * 16)] ?? "0";
        }
        hex = chars.join("");
      } else if (action === 2) {
        const at = 2 * Math.floor((random() * hex.length) / 2);
        const byte = Math.floor(random() * 256).toString(16).padStart(2, "0");
        hex = hex.slice(0, at) + byte + hex.slice(at + 2);
      } else {
        hex = Array.from({ length: Math.floor(random() * 80) }, () => "0123456789abcdefXZ "[Math.floor(random() * 19)]).join("");
      }
      try {
        const decoded = decodeDeliver(hex);
        assert.equal(typeof decoded.text, "string");
        assert.ok(!Number.isNaN(new Date(decoded.scts).getTime()), `bad scts ${decoded.scts} from ${hex}`);
        decodedCount++;
      } catch (error) {
        if (!isPduError(error)) {
          assert.fail(`input ${JSON.stringify(hex)} threw ${String(error)} instead of PduError`);
        }
        rejected++;
      }
    }
    assert.ok(decodedCount > 0 && rejected > 0, `decoded ${decodedCount}, rejected ${rejected}`);
  });
});
