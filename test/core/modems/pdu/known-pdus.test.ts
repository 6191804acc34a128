/**
 * PDUs written by others (specs, modem dumps, an independent decoder), so the
 * codec is not only checked against itself.
 */
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { describe, it } from "node:test";
import { decodeDeliver, encodeDeliver, PduError } from "../../../../core/modems/pdu/index.ts";

const require = createRequire(import.meta.url);

describe("decodeDeliver on published PDUs", () => {
  it('decodes the classic "hellohello" SMS-DELIVER (GSM 03.40 tutorial example)', () => {
    const decoded = decodeDeliver("07917283010010F5040BC87238880900F10000993092516195800AE8329BFD4697D9EC37");
    assert.equal(decoded.smsc, "27381000015");
    assert.equal(decoded.sender, "27838890001");
    assert.equal(decoded.senderType, "other"); // TOA 0xC8: type of number 100 (abbreviated)
    assert.equal(decoded.encoding, "gsm7");
    assert.equal(decoded.scts, "1999-03-29T15:16:59+02:00");
    assert.equal(decoded.text, "hellohello");
    assert.equal(decoded.udh, undefined);
  });

  // Vectors published with python-gsmmodem's test suite (test/test_pdu.py), captured from modems.
  it("decodes an SMS-DELIVER with a +08:00 time stamp", () => {
    const decoded = decodeDeliver(
      "07915892000000F0040B915892214365F700007040213252242331493A283D0795C3F33C88FE06C9CB6132885EC6D341EDF27C1E3E97E7207B3A0C0A5241E377BB1D7693E72E",
    );
    assert.equal(decoded.smsc, "85290000000");
    assert.equal(decoded.sender, "85291234567");
    assert.equal(decoded.senderType, "international");
    assert.equal(decoded.scts, "2007-04-12T23:25:42+08:00");
    assert.equal(new Date(decoded.scts).toISOString(), "2007-04-12T15:25:42.000Z");
    assert.equal(decoded.text, "It is easy to read text messages via AT commands.");
  });

  it("decodes extension-table characters and an accented default-table letter", () => {
    const decoded = decodeDeliver("06917228195339040B917228214365F70000313062315352800A800D8A5E98D337A910");
    assert.equal(decoded.sender, "27821234567");
    assert.equal(decoded.text, "@{tést}!");
  });

  it("decodes a 7-bit message with a concatenation header and fill bits", () => {
    const decoded = decodeDeliver(
      "0591721891F1400781721881F800003160526104848059050003C30101916536FB1DCABEEB2074D85E064941B19CAB060319A5C522289C96D3D3ED32286C0FA7D96131BBEC024941B19CAB0603DDD36C36A88C87A7E565D0DB0D82C55EB0DB4B068BCD5C20",
    );
    assert.equal(decoded.smsc, "2781191");
    assert.equal(decoded.sender, "2781188");
    assert.equal(decoded.senderType, "other"); // TOA 0x81: unknown type of number
    assert.deepEqual(decoded.udh, { ref: 0xc3, refBits: 8, total: 1, seq: 1 });
    assert.equal(decoded.text, "Hello!You have R 19.50 FREE airtime available. R 19.50 will expire on 01/07/2013. ");
  });

  it("rejects a real modem's UCS2 PDU whose user data length points past the end", () => {
    // From the smspdudecoder test suite: UDL says 35 octets, 17 are present.
    assert.throws(
      () => decodeDeliver("0891683110304105F1240D91683167414052F700081270115183942344597D70E6597D70E651CF80A551CF80A55C"),
      (error: unknown) => error instanceof PduError && error.code === "SIMHIVE_ERR_PDU" && /user data/.test(error.message),
    );
  });

  it("decodes a UCS2 PDU assembled field by field", () => {
    const pdu = [
      "07", "91", "9761989901F0", // SMSC: 8 octets follow, international, 79168999100
      "04", // SMS-DELIVER, no more messages waiting, no UDH
      "0B", "91", "9761214365F7", // originator: 11 digits, international, 79161234567
      "00", // PID
      "08", // DCS: UCS2
      "42501021436521", // SCTS 24-05-01 12:34:56, zone +12 quarter hours
      "10", // UDL: 16 octets
      "041A043E043400200031003200330034", // "Код 1234" in UTF-16BE
    ].join("");
    const decoded = decodeDeliver(pdu);
    assert.equal(decoded.smsc, "79168999100");
    assert.equal(decoded.sender, "79161234567");
    assert.equal(decoded.encoding, "ucs2");
    assert.equal(decoded.dcs, 8);
    assert.equal(decoded.scts, "2024-05-01T12:34:56+03:00");
    assert.equal(decoded.text, "Код 1234");
  });
});

describe("encodeDeliver output read by an independent decoder (node-pdu, used by serialport-gsm)", () => {
  const nodePdu = require("node-pdu") as {
    parse(hex: string): {
      getAddress(): { getPhone(): string };
      getData(): { getText(): string; getParts(): { getHeader(): { getPointer(): number; getSegments(): number; getCurrent(): number } | null }[] };
    };
  };

  it("reads our GSM 7-bit and UCS2 single-part PDUs", () => {
    // No "€" here: node-pdu's patched 7-bit decoder turns ESC 0x65 into U+FFFD.
    for (const text of ["Your code is 4821", "Код 1234 🔥👍", "[x] {y} ~z^ |\\"]) {
      const [hex] = encodeDeliver({ sender: "79161234567", text });
      const parsed = nodePdu.parse(hex ?? "");
      assert.equal(parsed.getData().getText(), text);
      assert.equal(parsed.getAddress().getPhone(), "79161234567");
    }
  });

  it("reads our concatenation headers (8-bit reference)", () => {
    const parts = encodeDeliver({ sender: "79161234567", text: "x".repeat(200), ref: 77 });
    assert.equal(parts.length, 2);
    parts.forEach((hex, index) => {
      const header = nodePdu.parse(hex).getData().getParts()[0]?.getHeader();
      assert.ok(header, "node-pdu found no header");
      assert.equal(header.getPointer(), 77);
      assert.equal(header.getSegments(), 2);
      assert.equal(header.getCurrent(), index + 1);
    });
  });
});
