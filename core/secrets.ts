import { createHash, timingSafeEqual } from "node:crypto";

/**
 * Constant-time comparison of a presented secret (API key, token) with the
 * expected one: both are hashed first, so the comparison runs over
 * equal-length digests whatever the lengths or contents. Absent or empty
 * never matches. For core and plugins alike.
 */
export function sameSecret(given: string | undefined, expected: string): boolean {
  const a = createHash("sha256").update(given ?? "", "utf8").digest();
  const b = createHash("sha256").update(expected, "utf8").digest();
  return timingSafeEqual(a, b) && given !== undefined && given.length > 0;
}

/** The token of an `Authorization: Bearer <token>` header. */
export function bearerToken(authorization: string | undefined): string | undefined {
  return /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? "")?.[1];
}
