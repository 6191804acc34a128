import type { NumberFilterRegistry } from "../hooks.ts";
import type { NumberInfo } from "../types.ts";
import type { Activation, CountTree, NumberRequest, ServiceHistory } from "./types.ts";

/**
 * The in-memory index behind counts() and reserve(): active activations by
 * number, per-service history, and the last finished activation per number.
 * Everything here is synchronous, so a pick-and-mark cannot interleave with
 * another request (the atomicity of reserve()). The store is the truth; this
 * is loaded from it at start and updated only after (or, for a reservation,
 * before and rolled back on failure of) the synced batch.
 */
export class NumberPool {
  readonly #activeByMsisdn = new Map<string, Activation>();
  readonly #activeByIccid = new Map<string, Activation>();
  readonly #activeById = new Map<number, Activation>();
  readonly #history = new Map<string, Map<string, ServiceHistory>>();
  /** Last finished activation per msisdn and per iccid (for SMS arriving after FINISH). */
  readonly #lastFinished = new Map<string, Activation>();
  /** When a number last started an activation: the pick spreads use over the SIMs. */
  readonly #lastUsedAt = new Map<string, number>();
  cancelLimit: number;

  constructor(cancelLimit: number) {
    this.cancelLimit = cancelLimit;
  }

  // ---- loading and bookkeeping ------------------------------------------

  markActive(activation: Activation): void {
    this.#activeByMsisdn.set(activation.msisdn, activation);
    this.#activeByIccid.set(activation.iccid, activation);
    this.#activeById.set(activation.activationId, activation);
    this.#touch(activation);
  }

  /** Takes an activation out of the active index (after its finish is on disk, or to roll back a reservation). */
  unmarkActive(activation: Activation): void {
    if (this.#activeByMsisdn.get(activation.msisdn)?.activationId === activation.activationId) this.#activeByMsisdn.delete(activation.msisdn);
    if (this.#activeByIccid.get(activation.iccid)?.activationId === activation.activationId) this.#activeByIccid.delete(activation.iccid);
    this.#activeById.delete(activation.activationId);
  }

  rememberFinished(activation: Activation): void {
    for (const key of [`m:${activation.msisdn}`, `i:${activation.iccid}`]) {
      const known = this.#lastFinished.get(key);
      if (!known || known.activationId < activation.activationId) this.#lastFinished.set(key, activation);
    }
    this.#touch(activation);
  }

  forgetFinished(activation: Activation): void {
    for (const key of [`m:${activation.msisdn}`, `i:${activation.iccid}`]) {
      if (this.#lastFinished.get(key)?.activationId === activation.activationId) this.#lastFinished.delete(key);
    }
  }

  setHistory(record: ServiceHistory): void {
    let byService = this.#history.get(record.msisdn);
    if (!byService) {
      byService = new Map();
      this.#history.set(record.msisdn, byService);
    }
    byService.set(record.service, record);
  }

  history(msisdn: string, service: string): ServiceHistory | undefined {
    return this.#history.get(msisdn)?.get(service);
  }

  #touch(activation: Activation): void {
    const previous = this.#lastUsedAt.get(activation.msisdn) ?? 0;
    if (activation.createdAt > previous) this.#lastUsedAt.set(activation.msisdn, activation.createdAt);
  }

  // ---- queries ------------------------------------------------------------

  activeById(activationId: number): Activation | undefined {
    return this.#activeById.get(activationId);
  }

  activeFor(msisdn: string | undefined, iccid: string): Activation | undefined {
    return (msisdn ? this.#activeByMsisdn.get(msisdn) : undefined) ?? this.#activeByIccid.get(iccid);
  }

  lastFinishedFor(msisdn: string | undefined, iccid: string): Activation | undefined {
    const byMsisdn = msisdn ? this.#lastFinished.get(`m:${msisdn}`) : undefined;
    const byIccid = this.#lastFinished.get(`i:${iccid}`);
    if (byMsisdn && byIccid) return byMsisdn.activationId > byIccid.activationId ? byMsisdn : byIccid;
    return byMsisdn ?? byIccid;
  }

  activeList(): Activation[] {
    return [...this.#activeById.values()];
  }

  get activeCount(): number {
    return this.#activeById.size;
  }

  /** Spent, refused or cancelled too often for this service? */
  blocked(msisdn: string, service: string): boolean {
    const record = this.#history.get(msisdn)?.get(service);
    if (!record) return false;
    return record.sold > 0 || record.refused || record.cancellations >= this.cancelLimit;
  }

  /**
   * Numbers GET_NUMBER would hand out now, per country/operator/service.
   * Services with no usable number on an operator that has numbers count 0.
   */
  counts(numbers: readonly NumberInfo[], marketplace: string, services: readonly string[], filter: NumberFilterRegistry): CountTree {
    const tree: CountTree = new Map();
    const requests: NumberRequest[] = services.map((service) => ({ marketplace, service, exceptionPrefixes: [] }));
    const hooked = filter.size > 0;
    for (const number of numbers) {
      // Busy numbers still put their country and operator on the map (with zeros): the partner sees the operator exists.
      const busy = this.#activeByMsisdn.has(number.msisdn) || this.#activeByIccid.has(number.iccid);
      let operators = tree.get(number.country);
      if (!operators) {
        operators = new Map();
        tree.set(number.country, operators);
      }
      let byService = operators.get(number.operator);
      if (!byService) {
        byService = new Map();
        operators.set(number.operator, byService);
      }
      const history = this.#history.get(number.msisdn);
      for (let index = 0; index < services.length; index++) {
        const service = services[index] as string;
        let usable = !busy;
        const record = usable ? history?.get(service) : undefined;
        if (usable && record && (record.sold > 0 || record.refused || record.cancellations >= this.cancelLimit)) usable = false;
        if (usable && hooked && !filter.allows(number, requests[index] as NumberRequest)) usable = false;
        byService.set(service, (byService.get(service) ?? 0) + (usable ? 1 : 0));
      }
    }
    return tree;
  }

  /**
   * The number to issue for `request`, or undefined: free, not blocked for the
   * service, matching country/operator, no exception prefix, allowed by the
   * hooks. Among those, the one used least recently.
   */
  pick(numbers: readonly NumberInfo[], request: NumberRequest, filter: NumberFilterRegistry): NumberInfo | undefined {
    const operator = request.operator === undefined || request.operator === "any" ? undefined : request.operator;
    let best: NumberInfo | undefined;
    let bestUsedAt = Infinity;
    for (const number of numbers) {
      if (this.#activeByMsisdn.has(number.msisdn) || this.#activeByIccid.has(number.iccid)) continue;
      if (request.country !== undefined && number.country !== request.country) continue;
      if (operator !== undefined && number.operator !== operator) continue;
      if (this.blocked(number.msisdn, request.service)) continue;
      if (request.exceptionPrefixes.some((prefix) => prefix.length > 0 && number.msisdn.startsWith(prefix))) continue;
      const usedAt = this.#lastUsedAt.get(number.msisdn) ?? 0;
      if (usedAt >= bestUsedAt) continue;
      if (!filter.allows(number, request)) continue;
      best = number;
      bestUsedAt = usedAt;
    }
    return best;
  }
}
