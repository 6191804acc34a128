/**
 * MCC/MNC → country and operator, in the marketplace's names (see
 * ../shared/seeds/001_*.txt, "Country list" and "Operators list"). The table
 * covers the networks simhive is deployed on; anything missing, or an MVNO
 * sharing its host's code, is set per SIM with `modems.operators` in config.
 */

export interface OperatorName {
  country: string;
  operator: string;
}

/** Key: MCC followed by MNC exactly as the IMSI starts (2- or 3-digit MNC). */
export const OPERATORS: Readonly<Record<string, OperatorName>> = {
  // Russia (MCC 250)
  "25001": { country: "russia", operator: "mts" },
  "25002": { country: "russia", operator: "megafon" },
  "25011": { country: "russia", operator: "yota" },
  "25020": { country: "russia", operator: "tele2" },
  "25028": { country: "russia", operator: "beeline" },
  "25099": { country: "russia", operator: "beeline" },
  "25039": { country: "russia", operator: "rostelecom" },
  "25050": { country: "russia", operator: "sber" },
  "25062": { country: "russia", operator: "tinkoff" },
  "25035": { country: "russia", operator: "motiv" },
  // Kazakhstan (MCC 401); Kcell and its brand activ share 01/02
  "40101": { country: "kazakhstan", operator: "beeline" },
  "40102": { country: "kazakhstan", operator: "activ" },
  "40107": { country: "kazakhstan", operator: "altel" },
  "40177": { country: "kazakhstan", operator: "tele2" },
  // Ukraine (MCC 255)
  "25501": { country: "ukraine", operator: "vodafone" },
  "25502": { country: "ukraine", operator: "kyivstar" },
  "25503": { country: "ukraine", operator: "kyivstar" },
  "25506": { country: "ukraine", operator: "life" },
  "25507": { country: "ukraine", operator: "3mob" },
  // Belarus (MCC 257)
  "25701": { country: "belorussia", operator: "a1" },
  "25702": { country: "belorussia", operator: "mts" },
  "25704": { country: "belorussia", operator: "life" },
  // Uzbekistan (MCC 434)
  "43404": { country: "uzbekistan", operator: "beeline" },
  "43405": { country: "uzbekistan", operator: "ucell" },
  "43406": { country: "uzbekistan", operator: "perfectum" },
  "43407": { country: "uzbekistan", operator: "mobiuz" },
  // Kyrgyzstan (MCC 437)
  "43701": { country: "kyrgyzstan", operator: "beeline" },
  "43705": { country: "kyrgyzstan", operator: "megacom" },
  "43709": { country: "kyrgyzstan", operator: "o" },
  // Azerbaijan (MCC 400)
  "40001": { country: "azerbaijan", operator: "azercell" },
  "40002": { country: "azerbaijan", operator: "bakcell" },
  "40004": { country: "azerbaijan", operator: "nar" },
  // Baltics
  "24801": { country: "estonia", operator: "telia" },
  "24802": { country: "estonia", operator: "elisa" },
  "24803": { country: "estonia", operator: "tele2" },
  "24701": { country: "latvia", operator: "lmt" },
  "24702": { country: "latvia", operator: "tele2" },
  "24705": { country: "latvia", operator: "bite" },
  "24601": { country: "lithuania", operator: "telia" },
  "24602": { country: "lithuania", operator: "bite" },
  "24603": { country: "lithuania", operator: "tele2" },
  // A few of the marketplace's other countries
  "26001": { country: "poland", operator: "plus" },
  "26002": { country: "poland", operator: "t-mobile" },
  "26003": { country: "poland", operator: "orange" },
  "26006": { country: "poland", operator: "play" },
  "26201": { country: "germany", operator: "telekom" },
  "26202": { country: "germany", operator: "vodafone" },
  "26203": { country: "germany", operator: "o2" },
  "23410": { country: "united_kingdom", operator: "o2" },
  "23415": { country: "united_kingdom", operator: "vodafone" },
  "23420": { country: "united_kingdom", operator: "three" },
  "23430": { country: "united_kingdom", operator: "ee" },
  "23433": { country: "united_kingdom", operator: "ee" },
  "20801": { country: "france", operator: "orange" },
  "20810": { country: "france", operator: "sfr" },
  "20815": { country: "france", operator: "free" },
  "20820": { country: "france", operator: "bouygues" },
};

/** Country by MCC alone, for SIMs whose MNC is not in the table. */
export const COUNTRIES_BY_MCC: Readonly<Record<string, string>> = {
  "250": "russia",
  "401": "kazakhstan",
  "255": "ukraine",
  "257": "belorussia",
  "434": "uzbekistan",
  "437": "kyrgyzstan",
  "400": "azerbaijan",
  "248": "estonia",
  "247": "latvia",
  "246": "lithuania",
  "260": "poland",
  "262": "germany",
  "234": "united_kingdom",
  "208": "france",
};

/** Country calling codes, to complete a national number from a USSD answer. */
export const CALLING_CODES: Readonly<Record<string, string>> = {
  russia: "7",
  kazakhstan: "7",
  ukraine: "380",
  belorussia: "375",
  uzbekistan: "998",
  kyrgyzstan: "996",
  azerbaijan: "994",
  estonia: "372",
  latvia: "371",
  lithuania: "370",
  poland: "48",
  germany: "49",
  united_kingdom: "44",
  france: "33",
};

/** Country and operator from an IMSI (3-digit MNC first, then 2-digit); undefined when the MCC is unknown. */
export function operatorFromImsi(imsi: string | undefined): Partial<OperatorName> | undefined {
  if (!imsi || !/^\d{6,}$/.test(imsi)) return undefined;
  const found = OPERATORS[imsi.slice(0, 6)] ?? OPERATORS[imsi.slice(0, 5)];
  if (found) return found;
  const country = COUNTRIES_BY_MCC[imsi.slice(0, 3)];
  return country ? { country } : undefined;
}
