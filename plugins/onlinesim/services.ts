/**
 * Service codes. Onlinesim's v1 API inherits SMSHub's short codes; operators
 * write names as often as codes, so names and common spellings map to the
 * code (`vkontakte` → `vk`). Unknown names pass through lowercased.
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
