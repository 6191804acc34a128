/**
 * Marketplace service codes and the names written for them. Onlinesim's v1
 * API inherits SMSHub's short codes (`vk`, `tg`, `mm` = Microsoft, `ma` =
 * Mail.ru, `ot` = any other); operators write names as often as codes, so
 * names and common spellings map to the code (`vkontakte` → `vk`).
 *
 * Stateless: a plugin may import it (like core/errors.ts), so every plugin
 * that reads a service from a request or from config agrees on one code.
 */
const NAMES: Readonly<Record<string, readonly string[]>> = {
  vk: ["vkontakte", "вконтакте", "vkcom"],
  ok: ["odnoklassniki", "одноклассники"],
  wa: ["whatsapp"],
  tg: ["telegram"],
  vi: ["viber"],
  fb: ["facebook"],
  ig: ["instagram"],
  tw: ["twitter"],
  go: ["google", "gmail", "youtube"],
  mm: ["microsoft", "outlook", "hotmail"],
  ma: ["mailru", "mail.ru"],
  ya: ["yandex"],
  av: ["avito"],
  ub: ["uber"],
  wb: ["wechat"],
  ds: ["discord"],
  tn: ["linkedin"],
  am: ["amazon"],
  dh: ["ebay"],
  ts: ["paypal"],
  lf: ["tiktok", "douyin"],
  nf: ["netflix"],
  mt: ["steam"],
  ot: ["other", "any other"],
};

const BY_NAME = new Map<string, string>();
for (const [code, names] of Object.entries(NAMES)) {
  BY_NAME.set(code, code);
  for (const name of names) BY_NAME.set(name, code);
}

/** The known service codes, in table order. */
export const SERVICE_CODES: readonly string[] = Object.keys(NAMES);

/** The code of a known service code or name (any case, trimmed); undefined when unknown. */
export function knownService(service: string): string | undefined {
  return BY_NAME.get(service.trim().toLowerCase());
}

/** The code of a known service; an unknown one passes through trimmed and lower-cased. */
export function normaliseService(service: string): string {
  const key = service.trim().toLowerCase();
  return BY_NAME.get(key) ?? key;
}

/** The other names of a code (`tg` → `telegram`); none for an unknown code. */
export function serviceNames(code: string): readonly string[] {
  return NAMES[code] ?? [];
}
