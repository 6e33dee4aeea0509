// How the stand-in reads text, shared by embeddings and the test chat model so that "similar" means the same in both:
// accent-free lower-case words, a small en/es/pt stopword list, a light suffix stemmer and a rough token count.

// Function words of English, Spanish and Portuguese, kept small on purpose: they only have to stop "how/does/the"
// from making unrelated texts look alike. Stored accent-free, as `normalizeText` leaves words.
const STOPWORDS = new Set(
  [
    // en
    "a an the and or but if of to in on at by for with from about as into than then so not no yes do does did done",
    "is are was were be been being am i me my we our us you your he she it its they them their this that these those",
    "what which who whom whose when where why how can could would should will shall may might must have has had",
    "there here any some all please hi hello thanks thank just also very too up out get",
    // es
    "el la los las un una unos unas y o pero si de del al en con por para sin sobre es son fue ser estar esta este",
    "estos estas eso esa ese que quien cual cuando donde como cuanto cuanta cuantos cuantas mi mis tu tus su sus",
    "nos yo usted ustedes ellos ellas lo le les se me te hay hola gracias favor muy mas ya tambien puedo puede",
    // pt
    "o os as um uma uns umas e ou mas se do da dos das no na nos nas em com por para sem sobre sao foi ser estar",
    "isso essa esse isto qual quem quando onde como quanto quanta quantos quantas meu minha seu sua voce voces eles",
    "elas ele ela lhe ha ola obrigado obrigada muito mais ja tambem posso pode",
  ].join(" ").split(/\s+/),
);

/** NFKD, combining marks removed, lower-cased: "Envíos ÁGILES" → "envios agiles". */
export function normalizeText(text: string): string {
  return text.normalize("NFKD").replace(/\p{M}+/gu, "").toLowerCase();
}

/** Runs of letters and digits of the normalised text ("3-5 days" → ["3", "5", "days"]). */
export function words(text: string): string[] {
  return normalizeText(text).match(/[\p{L}\p{N}]+/gu) ?? [];
}

export function isStopword(word: string): boolean {
  return STOPWORDS.has(word);
}

/**
 * A deliberately light stemmer good enough for en/es/pt plurals and English -ing/-ed: "policies" → "policy",
 * "boxes" → "box", "takes" → "take", "shipping"/"shipped" → "ship", "envios" → "envio", "meses" → "mes".
 */
export function stem(word: string): string {
  if (word.length <= 3 || /\d/.test(word)) return word;
  let w = word;
  if (w.endsWith("ing") && w.length > 5) return undouble(w.slice(0, -3));
  if (w.endsWith("ed") && w.length > 4) return undouble(w.slice(0, -2));
  if (w.endsWith("ies") && w.length > 4) return w.slice(0, -3) + "y";
  if (w.endsWith("sses")) return w.slice(0, -2);
  if (/(ss|us|is)$/.test(w)) return w;
  if (/(s|x|z|ch|sh)es$/.test(w)) return w.slice(0, -2);
  if (w.endsWith("s")) w = w.slice(0, -1);
  return w;
}

function undouble(w: string): string {
  return /([b-df-hj-np-tv-z])\1$/.test(w) ? w.slice(0, -1) : w;
}

/** The stems of the words that carry meaning, in order, duplicates kept. */
export function contentStems(text: string): string[] {
  return words(text).filter((w) => !isStopword(w)).map(stem);
}

/**
 * Approximate token count: whitespace-separated words × 1.3, rounded up. Real tokenizers differ (English prose is
 * ~1.3 tokens a word); this is only used for `usage` and for the 8192-token input cap.
 */
export function estimateTokens(text: string): number {
  const count = text.split(/\s+/).filter(Boolean).length;
  return Math.ceil(count * 1.3);
}

/** 32-bit FNV-1a over the UTF-8 bytes: stable across runs and platforms, which is all feature hashing needs. */
export function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(text)) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
