export { decodeDeliver } from "./decode.ts";
export { encodeDeliver, gsm7Length } from "./encode.ts";
export type { EncodeDeliverOptions } from "./encode.ts";
export { PduError } from "./errors.ts";
export { fitsGsm7 } from "./gsm7.ts";
export { isPduLine, tpduLength } from "./length.ts";
export type { ConcatInfo, DecodedPdu, PduEncoding, SenderType } from "./types.ts";
