import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decodeDeliver, encodeDeliver, fitsGsm7, gsm7Length } from "../../../../core/modems/pdu/index.ts";
import type { DecodedPdu } from "../../../../core/modems/pdu/index.ts";

const timestamp = new Date("2024-05-01T09:34:56Z");

function roundTrip(options: Parameters<typeof encodeDeliver>[0]): DecodedPdu[] {
  return encodeDeliver({ timestamp, ...options }).map((hex) => decodeDeliver(hex));
}

function joined(parts: DecodedPdu[]): string {
  return [...parts].sort((a, b) => (a.udh?.seq ?? 0) - (b.udh?.seq ?? 0)).map((part) => part.text).join("");
}

describe("encodeDeliver → decodeDeliver", () => {
  it("keeps Latin text in GSM 7-bit with an international sender", () => {
    const [decoded] = roundTrip({ sender: "+79161234567", text: "Your code: 4821. Don't share it!" });
    assert.ok(decoded);
    assert.equal(decoded.encoding, "gsm7");
    assert.equal(decoded.sender, "79161234567");
    assert.equal(decoded.senderType, "international");
    assert.equal(decoded.text, "Your code: 4821. Don't share it!");
    assert.equal(decoded.smsc, "79000000000");
    assert.equal(decoded.udh, undefined);
  });

  it("keeps Cyrillic and emoji in UCS2, surrogate pairs intact", () => {
    const [decoded] = roundTrip({ sender: "79161234567", text: "Код 1234 🔥👍" });
    assert.equal(decoded?.encoding, "ucs2");
    assert.equal(decoded?.text, "Код 1234 🔥👍");
  });

  it("carries every extension-table character and form feed in GSM 7-bit", () => {
    const text = "€[]{}|^~\\ and\fpage";
    assert.equal(gsm7Length("€[]{}|^~\\"), 18);
    const [decoded] = roundTrip({ sender: "79161234567", text });
    assert.equal(decoded?.encoding, "gsm7");
    assert.equal(decoded?.text, text);
  });

  it("keeps the whole default alphabet", () => {
    const text = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCXYZÄÖÑÜ§¿abcxyzäöñüà";
    assert.ok(fitsGsm7(text));
    assert.equal(roundTrip({ sender: "79161234567", text })[0]?.text, text);
  });

  for (const sender of ["VK", "Telegram", "MegaFon", "Sber-Bank_1"]) {
    it(`encodes the alphanumeric sender ${sender}`, () => {
      const [decoded] = roundTrip({ sender, text: "hi" });
      assert.equal(decoded?.sender, sender);
      assert.equal(decoded?.senderType, "alphanumeric");
    });
  }

  it("chooses the encoding: auto, forced UCS2, forced GSM 7-bit", () => {
    assert.equal(roundTrip({ sender: "1", text: "abc" })[0]?.encoding, "gsm7");
    assert.equal(roundTrip({ sender: "1", text: "abc", encoding: "ucs2" })[0]?.encoding, "ucs2");
    assert.equal(roundTrip({ sender: "1", text: "abc", encoding: "ucs2" })[0]?.text, "abc");
    assert.throws(() => encodeDeliver({ sender: "1", text: "Код", encoding: "gsm7" }), { code: "SIMHIVE_ERR_PDU" });
  });

  it("writes the time stamp with its offset, negative offsets included", () => {
    for (const utcOffsetMinutes of [180, -300, 0, 345]) {
      const [decoded] = roundTrip({ sender: "1", text: "t", utcOffsetMinutes });
      assert.ok(decoded);
      assert.equal(new Date(decoded.scts).getTime(), timestamp.getTime(), decoded.scts);
    }
    assert.equal(roundTrip({ sender: "1", text: "t", utcOffsetMinutes: -300 })[0]?.scts, "2024-05-01T04:34:56-05:00");
  });

  it("codes a message class in the DCS (class 0 = flash)", () => {
    const [decoded] = roundTrip({ sender: "1", text: "flash", messageClass: 0 });
    assert.equal(decoded?.dcs, 0x10);
    assert.equal(decoded?.messageClass, 0);
    assert.equal(decoded?.text, "flash");
  });
});

describe("concatenation", () => {
  const cases: { name: string; text: string; refBits?: 8 | 16; parts: number }[] = [
    { name: "160 septets fit one GSM part", text: "a".repeat(160), parts: 1 },
    { name: "161 septets need two", text: "a".repeat(161), parts: 2 },
    { name: "306 septets fill two 153-septet parts", text: "b".repeat(306), parts: 2 },
    { name: "307 septets need three", text: "b".repeat(307), parts: 3 },
    { name: "304 septets fill two 152-septet parts (16-bit ref)", text: "c".repeat(304), refBits: 16, parts: 2 },
    { name: "305 septets need three (16-bit ref)", text: "c".repeat(305), refBits: 16, parts: 3 },
    { name: "70 UCS2 units fit one part", text: "ж".repeat(70), parts: 1 },
    { name: "71 UCS2 units need two", text: "ж".repeat(71), parts: 2 },
    { name: "134 UCS2 units fill two 67-unit parts", text: "ж".repeat(134), parts: 2 },
    { name: "135 UCS2 units need three", text: "ж".repeat(135), parts: 3 },
    { name: "132 UCS2 units fill two 66-unit parts (16-bit ref)", text: "ж".repeat(132), refBits: 16, parts: 2 },
    { name: "133 UCS2 units need three (16-bit ref)", text: "ж".repeat(133), refBits: 16, parts: 3 },
  ];
  for (const { name, text, refBits, parts } of cases) {
    it(name, () => {
      const decoded = roundTrip({ sender: "79161234567", text, ref: 200, ...(refBits ? { refBits } : {}) });
      assert.equal(decoded.length, parts);
      assert.equal(joined(decoded), text);
      if (parts > 1) {
        decoded.forEach((part, index) => {
          assert.deepEqual(part.udh, { ref: 200, refBits: refBits ?? 8, total: parts, seq: index + 1 });
        });
      } else {
        assert.equal(decoded[0]?.udh, undefined);
      }
    });
  }

  it("uses a 16-bit reference above 255", () => {
    const decoded = roundTrip({ sender: "1", text: "d".repeat(400), ref: 0xbeef, refBits: 16 });
    assert.deepEqual(decoded.map((part) => part.udh?.ref), [0xbeef, 0xbeef, 0xbeef]);
    assert.throws(() => encodeDeliver({ sender: "1", text: "d".repeat(400), ref: 300 }), { code: "SIMHIVE_ERR_PDU" });
  });

  it("never splits an escape sequence", () => {
    const text = `${"a".repeat(152)}€tail${"z".repeat(10)}`;
    const decoded = roundTrip({ sender: "1", text });
    assert.equal(decoded[0]?.text, "a".repeat(152));
    assert.ok(decoded[1]?.text.startsWith("€tail"));
    assert.equal(joined(decoded), text);
  });

  it("never splits a surrogate pair", () => {
    const text = `${"ж".repeat(66)}🔥${"ж".repeat(10)}`;
    const decoded = roundTrip({ sender: "1", text });
    assert.equal(decoded[0]?.text, "ж".repeat(66));
    assert.ok(decoded[1]?.text.startsWith("🔥"));
    assert.equal(joined(decoded), text);
    const sixteen = roundTrip({ sender: "1", text: `${"ж".repeat(65)}👍${"ж".repeat(10)}`, refBits: 16 });
    assert.equal(sixteen[0]?.text, "ж".repeat(65));
  });

  it("gives each message its own reference when none is passed", () => {
    const first = roundTrip({ sender: "1", text: "e".repeat(200) })[0]?.udh?.ref;
    const second = roundTrip({ sender: "1", text: "e".repeat(200) })[0]?.udh?.ref;
    assert.notEqual(first, second);
  });
});
