/**
 * The offered services. The code table is core/services.ts (shared with
 * number-exceptions and sms-filter, so every plugin agrees on one code):
 * Onlinesim's v1 API inherits SMSHub's short codes (seed 001:3, 7); its
 * service list (001:252-257) shows only `ot` and refers to others. Unknown
 * names pass through lowercased, and `unknownServices` names them so the
 * plugin can warn at start: GET_SERVICES must use names from the
 * marketplace's list (seed 002:17).
 */
import { knownService, normaliseService } from "../../core/services.ts";

export { normaliseService };

/** The offered services, normalised and deduplicated, in config order. */
export function normaliseServices(services: readonly string[]): string[] {
  return [...new Set(services.map(normaliseService))];
}

/** The configured services (normalised) that are no code or name the table knows. */
export function unknownServices(services: readonly string[]): string[] {
  return normaliseServices(services).filter((code) => knownService(code) === undefined);
}
