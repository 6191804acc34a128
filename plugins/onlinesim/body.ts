import { gunzipSync, inflateSync } from "node:zlib";
import type { Context } from "koa";

/** The largest body read here, after decoding (the hub's own parser has `http.bodyLimitBytes`). */
const BODY_LIMIT = 1_048_576;

export type RequestBody = { ok: true; body: Record<string, unknown> } | { ok: false };

const EMPTY: RequestBody = { ok: true, body: {} };

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** `text` as a JSON object; empty text is an empty body; anything else is malformed. */
function fromJson(text: string): RequestBody {
  if (text.trim() === "") return EMPTY;
  try {
    const parsed: unknown = JSON.parse(text);
    return isObject(parsed) ? { ok: true, body: parsed } : { ok: false };
  } catch {
    return { ok: false };
  }
}

function tooLarge(): Error {
  return Object.assign(new Error(`request body larger than ${BODY_LIMIT} bytes`), { status: 413, expose: true });
}

/** The request stream's bytes, at most BODY_LIMIT (past that 413, and the rest is read and dropped so the connection stays usable). */
function readBytes(ctx: Context): Promise<Buffer> {
  const req = ctx.req;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (error?: Error) => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", done);
      if (error) reject(error);
      else resolve(Buffer.concat(chunks));
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > BODY_LIMIT) {
        done(tooLarge());
        req.resume();
      } else chunks.push(chunk);
    };
    const onEnd = () => done();
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", done);
  });
}

/** The undecoded request stream, decoded here (gzip, deflate or none); undefined when it cannot be. */
async function readStream(ctx: Context): Promise<string | undefined> {
  const raw = await readBytes(ctx);
  const encoding = ctx.get("content-encoding").trim().toLowerCase();
  try {
    if (encoding === "" || encoding === "identity") return raw.toString("utf8");
    if (encoding === "gzip" || encoding === "x-gzip") return gunzipSync(raw, { maxOutputLength: BODY_LIMIT }).toString("utf8");
    if (encoding === "deflate") return inflateSync(raw, { maxOutputLength: BODY_LIMIT }).toString("utf8");
  } catch (error) {
    if ((error as { code?: string }).code === "ERR_BUFFER_TOO_LARGE") throw tooLarge();
  }
  return undefined;
}

/**
 * The request body as an object. Onlinesim sends JSON but may not say so, so
 * a body is read as JSON whatever its Content-Type (a form-encoded body that
 * is not JSON stays the form the hub parsed). Behind the hub, its parser has
 * read JSON, form and text bodies (and left a malformed one in
 * `ctx.state.bodyError`); other types, or no type, arrive unread and are read
 * here. `{ ok: false }` is a malformed body: the caller answers it after its
 * key check.
 */
export async function readBody(ctx: Context): Promise<RequestBody> {
  if (ctx.method === "GET" || ctx.method === "HEAD") return EMPTY;
  if (ctx.state.bodyError !== undefined) return { ok: false };
  const request = ctx.request as { body?: unknown; rawBody?: unknown };
  if (typeof request.rawBody === "string") {
    if (ctx.is("json")) return isObject(request.body) ? { ok: true, body: request.body } : { ok: false };
    const json = fromJson(request.rawBody);
    if (json.ok || !isObject(request.body) || Object.keys(request.body).length === 0) return json;
    return { ok: true, body: request.body }; // a form
  }
  if (ctx.req.readableEnded) return isObject(request.body) ? { ok: true, body: request.body } : EMPTY;
  const text = await readStream(ctx);
  return text === undefined ? { ok: false } : fromJson(text);
}
