import { bearerToken, sameSecret } from "../../core/secrets.ts";
import { BlockList, isIP } from "node:net";

/** The key comparison, in constant time (core/secrets.ts). */
export const keyMatches = sameSecret;

/** The key from the body `key`, `Authorization: Bearer`, or the `apikey` / `key` query parameter. */
export function presentedKey(body: Record<string, unknown>, query: Record<string, unknown>, authorization: string | undefined): string | undefined {
  const fromBody = body.key;
  if (typeof fromBody === "string" && fromBody.length > 0) return fromBody;
  const bearer = bearerToken(authorization);
  if (bearer) return bearer;
  for (const name of ["apikey", "key"]) {
    const value = query[name];
    if (typeof value === "string" && value.length > 0) return value;
  }
  return undefined;
}

function plainAddress(address: string): string {
  return address.startsWith("::ffff:") && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

/** `allowFrom`: addresses and CIDR ranges, IPv4 and IPv6; IPv4-mapped IPv6 sources match IPv4 entries. */
export function addressFilter(allowFrom: readonly string[] | undefined): ((address: string) => boolean) | undefined {
  if (!allowFrom || allowFrom.length === 0) return undefined;
  const list = new BlockList();
  for (const entry of allowFrom) {
    const [address = "", prefix] = entry.split("/");
    const family = isIP(address);
    if (family === 0) throw new Error(`allowFrom: "${entry}" is not an IP address or CIDR range`);
    const type = family === 4 ? "ipv4" : "ipv6";
    if (prefix === undefined) list.addAddress(address, type);
    else list.addSubnet(address, Number(prefix), type);
  }
  return (source) => {
    const address = plainAddress(source);
    const family = isIP(address);
    return family !== 0 && list.check(address, family === 4 ? "ipv4" : "ipv6");
  };
}
