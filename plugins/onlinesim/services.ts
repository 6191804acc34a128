/**
 * Service codes. Onlinesim's v1 API inherits SMSHub's short codes (seed 001:3,
 * 7); its service list (001:252-257) shows only `ot` and refers to others.
 * Operators write names as often as codes, so names and common spellings map
 * to the code (`vkontakte` → `vk`). Unknown names pass through lowercased,
 * and `unknownServices` names them so the plugin can warn at start: GET_SERVICES
 * must use names from the marketplace's list (seed 002:17).
 */
const ALIASES: Record<string, readonly string[]> = {
  vk: ["vkontakte", "вконтакте"],
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
  ot: ["other", "any other"],
};

const BY_NAME = new Map<string, string>();
for (const [code, names] of Object.entries(ALIASES)) {
  BY_NAME.set(code, code);
  for (const name of names) BY_NAME.set(name, code);
}

export function normaliseService(service: string): string {
  const key = service.trim().toLowerCase();
  return BY_NAME.get(key) ?? key;
}

/** The offered services, normalised and deduplicated, in config order. */
export function normaliseServices(services: readonly string[]): string[] {
  return [...new Set(services.map(normaliseService))];
}

/** The configured services (normalised) that are no code or name this table knows. */
export function unknownServices(services: readonly string[]): string[] {
  return normaliseServices(services).filter((code) => !BY_NAME.has(code));
}
