import { SimhiveError } from "../../errors.ts";

/** A PDU that cannot be decoded (or text that cannot be encoded). Match on `code`. */
export class PduError extends SimhiveError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("SIMHIVE_ERR_PDU", message, options);
    this.name = "PduError";
  }
}
