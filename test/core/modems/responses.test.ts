import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { encodeDeliver, isPduLine, tpduLength } from "../../../core/modems/pdu/index.ts";
import { parseCmgl, parseCmgr } from "../../../core/modems/responses.ts";

const [PDU] = encodeDeliver({ sender: "79001234567", text: "Your code 4711", timestamp: new Date(0), smsc: "79000000000" });
const [OTHER] = encodeDeliver({ sender: "79007654321", text: "another one", timestamp: new Date(0), smsc: "79000000000" });
if (!PDU || !OTHER) throw new Error("no PDU");
const LEN = tpduLength(PDU);

describe("reading +CMGR / +CMGL replies", () => {
  it("takes the PDU line that matches the header's length, whatever comes between", () => {
    for (const noise of ["+CTZV: 24/05/01,12:00:00,+12", '*PSUTTZ: 24,5,1,12,0,0,"+12",0', "\u0000\u00ff#", "+CSQN: 20,99", "00"]) {
      assert.deepEqual(parseCmgr([`+CMGR: 0,,${LEN}`, noise, PDU]), { stat: 0, pdu: PDU }, noise);
      assert.deepEqual(
        parseCmgl([`+CMGL: 1,0,,${LEN}`, noise, PDU, `+CMGL: 4,1,,${tpduLength(OTHER)}`, OTHER, noise]),
        [
          { index: 1, stat: 0, pdu: PDU },
          { index: 4, stat: 1, pdu: OTHER },
        ],
        noise,
      );
    }
  });

  it("marks a lone hex line of another length as a mismatch, and a header without any hex line as missing its PDU", () => {
    assert.deepEqual(parseCmgr([`+CMGR: 0,,${LEN + 3}`, PDU]), { stat: 0, pdu: PDU, mismatch: true });
    assert.deepEqual(parseCmgr([`+CMGR: 1,,${LEN}`, "+CTZV: 24/05/01,12:00:00,+12"]), { stat: 1 });
    assert.deepEqual(parseCmgl([`+CMGL: 2,1,,${LEN}`, `+CMGL: 3,0,,${LEN}`, PDU]), [{ index: 2, stat: 1 }, { index: 3, stat: 0, pdu: PDU }]);
    assert.equal(parseCmgr([]), undefined, "an empty slot");
  });

  it("accepts the length with or without the SMSC octets, and any hex line when the header gives none", () => {
    assert.equal(isPduLine(PDU, LEN), true);
    assert.equal(isPduLine(PDU, PDU.length / 2), true);
    assert.equal(isPduLine(PDU, LEN - 1), false);
    assert.equal(isPduLine(`${PDU}0`, undefined), false, "odd digits");
    assert.deepEqual(parseCmgr(["+CMGR: 0", PDU]), { stat: 0, pdu: PDU });
  });
});
