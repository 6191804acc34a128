import type { NumberFilterRegistry } from "../hooks.ts";
import type { NumberInfo } from "../types.ts";
import { excepted } from "./exceptions.ts";
import { ANY_OPERATOR, type Activation, type CountTree, type NumberRequest, type ServiceHistory } from "./types.ts";

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
  /** SIMs already reported for an unknown country or operator (once each). */
  readonly #warnedUnplaced = new Set<string>();
  readonly #onUnplaced: (number: NumberInfo, missing: "country" | "operator") => void;
  cancelLimit: number;

  constructor(cancelLimit: number, onUnplaced: (number: NumberInfo, missing: "country" | "operator") => void = () => {}) {
    this.cancelLimit = cancelLimit;
    this.#onUnplaced = onUnplaced;
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

  /** Carries an activation now (by number or by SIM)? */
  busy(number: NumberInfo): boolean {
    return this.#activeByMsisdn.has(number.msisdn) || this.#activeByIccid.has(number.iccid);
  }

  /**
   * Where a number is offered: its country, and its operator or, when that is
   * not known, `ANY_OPERATOR` (offered only to requests for any operator).
   * Undefined when its country is not known: such a SIM is not offered at all.
   */
  #placeOf(number: NumberInfo): { country: string; operator: string } | undefined {
    const countryKnown = knownName(number.country);
    const operatorKnown = knownName(number.operator);
    if (!(countryKnown && operatorKnown)) this.#unplaced(number, countryKnown ? "operator" : "country");
    if (!countryKnown) return undefined;
    return { country: number.country, operator: operatorKnown ? number.operator : ANY_OPERATOR };
  }

  #unplaced(number: NumberInfo, missing: "country" | "operator"): void {
    if (this.#warnedUnplaced.has(number.iccid)) return;
    this.#warnedUnplaced.add(number.iccid);
    this.#onUnplaced(number, missing);
  }

  /**
   * THE rule, for counts() and pick() alike: may `number` be issued for
   * `request` now? Free (no activation on the number or the SIM), its country
   * known and matching, its operator matching (a SIM of unknown operator only
   * when any operator will do), not spent, refused or cancelled too often for
   * the service, not under one of the request's exception prefixes (already
   * normalised), and allowed by every numberFilter hook.
   */
  usable(number: NumberInfo, request: NumberRequest, filter: NumberFilterRegistry): boolean {
    return this.#offered(number, request) && this.#allowedFor(number, request, filter);
  }

  /** The half of `usable()` that does not depend on the service: free, and in the request's country and operator. */
  #offered(number: NumberInfo, request: NumberRequest): boolean {
    if (this.busy(number)) return false;
    const place = this.#placeOf(number);
    if (!place) return false;
    if (request.country !== undefined && place.country !== request.country) return false;
    return request.operator === undefined || request.operator === ANY_OPERATOR || place.operator === request.operator;
  }

  /** The half of `usable()` that depends on the service and the request: history, exceptions, hooks. */
  #allowedFor(number: NumberInfo, request: NumberRequest, filter: NumberFilterRegistry, history = this.#history.get(number.msisdn)): boolean {
    const record = history?.get(request.service);
    if (record && (record.sold > 0 || record.refused || record.cancellations >= this.cancelLimit)) return false;
    if (excepted(number.msisdn, request.exceptionPrefixes as readonly string[])) return false;
    return filter.size === 0 || filter.allows(number, request);
  }

  /**
   * Numbers GET_NUMBER would hand out now, per country/operator/service: for
   * each number and service, `usable()` with a request for that service in
   * any country and operator (its service-independent half asked once per
   * number). Numbers of unknown operator are counted under `ANY_OPERATOR`;
   * numbers of unknown country not at all. Busy numbers still put their
   * country and operator on the map (with zeros): the partner sees the
   * operator exists.
   */
  counts(numbers: readonly NumberInfo[], marketplace: string, services: readonly string[], filter: NumberFilterRegistry): CountTree {
    const requests: NumberRequest[] = services.map((service) => ({ marketplace, service, exceptionPrefixes: NO_PREFIXES }));
    // country → operator → count per service index; made into the tree's maps at the end.
    const cells = new Map<string, Map<string, number[]>>();
    for (const number of numbers) {
      const place = this.#placeOf(number);
      if (!place) continue;
      let operators = cells.get(place.country);
      if (!operators) {
        operators = new Map();
        cells.set(place.country, operators);
      }
      let counts = operators.get(place.operator);
      if (!counts) {
        counts = new Array<number>(services.length).fill(0);
        operators.set(place.operator, counts);
      }
      if (!this.#offered(number, ANY_REQUEST)) continue;
      const history = this.#history.get(number.msisdn);
      for (let index = 0; index < services.length; index++) {
        if (this.#allowedFor(number, requests[index] as NumberRequest, filter, history)) counts[index] = (counts[index] as number) + 1;
      }
    }
    const tree: CountTree = new Map();
    for (const [country, operators] of cells) {
      const byOperator = new Map<string, Map<string, number>>();
      for (const [operator, counts] of operators) byOperator.set(operator, new Map(services.map((service, index) => [service, counts[index] as number])));
      tree.set(country, byOperator);
    }
    return tree;
  }

  /**
   * The number to issue for `request` (exception prefixes already
   * normalised), or undefined: among the `usable()` ones, the one used least
   * recently.
   */
  pick(numbers: readonly NumberInfo[], request: NumberRequest, filter: NumberFilterRegistry): NumberInfo | undefined {
    let best: NumberInfo | undefined;
    let bestUsedAt = Infinity;
    for (const number of numbers) {
      const usedAt = this.#lastUsedAt.get(number.msisdn) ?? 0;
      if (usedAt >= bestUsedAt) continue;
      if (!this.usable(number, request, filter)) continue;
      best = number;
      bestUsedAt = usedAt;
    }
    return best;
  }
}

/** core/modems names a SIM whose MCC/MNC is not in its table (and has no modems.operators entry) "unknown". */
function knownName(name: string | undefined): boolean {
  return name !== undefined && name !== "" && name !== UNKNOWN_NAME;
}

const UNKNOWN_NAME = "unknown";
const NO_PREFIXES: readonly string[] = [];
/** Any country, any operator: what counts() asks the service-independent half with. */
const ANY_REQUEST: NumberRequest = { marketplace: "", service: "", exceptionPrefixes: NO_PREFIXES };
