/**
 * Built-in text material, written for KV Lab (no other benchmark's sentences):
 *   - `fillerSentences`: an endless, seeded stream of plain, neutral sentences
 *     ("The patient miller walked along the river at dawn.") — the haystack when
 *     no texts are chosen, and the background of the RULER-style tasks;
 *   - `needleKey`: two-word names ("cobalt lantern") for needles;
 *   - `pseudoWord`: pronounceable non-words ("tovelka") for word-counting tasks.
 * The word lists are disjoint, so a key or a pseudo-word never occurs in filler.
 */
import type { Rng } from '../rng.ts';
import { pick } from './text.ts';

const ADJ = ['quiet', 'old', 'patient', 'small', 'busy', 'gentle', 'tired', 'cheerful', 'careful', 'young', 'grey', 'tall', 'kind', 'sleepy', 'proud'];
const PERSON = ['miller', 'weaver', 'farmer', 'teacher', 'sailor', 'baker', 'shepherd', 'porter', 'clerk', 'carpenter', 'fisherman', 'potter', 'tailor'];
const PLACE = ['river', 'market', 'meadow', 'harbour', 'orchard', 'bridge', 'village', 'hillside', 'square', 'mill', 'garden', 'station', 'library'];
const THING = ['basket', 'kettle', 'ladder', 'wagon', 'bucket', 'blanket', 'lamp', 'bench', 'cart', 'barrel', 'rope', 'window', 'gate'];
const TIME = ['at dawn', 'before noon', 'in the afternoon', 'at dusk', 'after supper', 'on Sunday', 'in the spring', 'during the rain', 'late at night'];
const MOTION = ['walked along', 'waited by', 'rested near', 'looked across', 'wandered through', 'sat beside', 'passed by'];
const WEATHER = ['The wind was mild', 'The sky was pale', 'The air smelled of bread', 'A light rain fell', 'The clouds moved slowly', 'The road was dry'];

/** "An old" / "A quiet". */
const article = (word: string): string => `${/^[aeiou]/.test(word) ? 'An' : 'A'} ${word}`;

const FORMS: readonly ((r: Rng) => string)[] = [
  (r) => `The ${pick(ADJ, r)} ${pick(PERSON, r)} ${pick(MOTION, r)} the ${pick(PLACE, r)} ${pick(TIME, r)}.`,
  (r) => `${pick(WEATHER, r)} ${pick(TIME, r)}, and the ${pick(PLACE, r)} was ${pick(['calm', 'empty', 'crowded', 'still', 'noisy'], r)}.`,
  (r) => `${article(pick(ADJ, r))} ${pick(PERSON, r)} mended the ${pick(THING, r)} by the ${pick(PLACE, r)}.`,
  (r) => `Nobody near the ${pick(PLACE, r)} noticed the ${pick(THING, r)} left on the step.`,
  (r) => `The ${pick(PERSON, r)} carried a ${pick(THING, r)} to the ${pick(PLACE, r)} and came back ${pick(TIME, r)}.`,
  (r) => `Everyone agreed that the ${pick(PLACE, r)} looked ${pick(['lovely', 'ordinary', 'peaceful', 'bright', 'old'], r)} ${pick(TIME, r)}.`,
];

/** An endless seeded stream of filler sentences. */
export function* fillerSentences(rng: Rng): Generator<string, never> {
  for (;;) yield pick(FORMS, rng)(rng);
}

// prettier-ignore
const KEY_ADJ = [
  'cobalt', 'amber', 'crimson', 'silver', 'violet', 'golden', 'scarlet', 'ivory', 'copper', 'jade',
  'indigo', 'bronze', 'coral', 'ochre', 'azure', 'onyx', 'saffron', 'teal', 'umber', 'pearl',
];
// prettier-ignore
const KEY_NOUN = [
  'lantern', 'falcon', 'compass', 'anchor', 'violin', 'comet', 'glacier', 'beacon', 'harp', 'orchid',
  'tiger', 'quill', 'meteor', 'canyon', 'otter', 'cipher', 'zephyr', 'lynx', 'sparrow', 'prism',
];

/** The number of distinct needle keys. */
export const NEEDLE_KEY_COUNT = KEY_ADJ.length * KEY_NOUN.length;

/** Needle key number i (0 ≤ i < NEEDLE_KEY_COUNT), e.g. "cobalt lantern". */
export function needleKey(i: number): string {
  return `${KEY_ADJ[i % KEY_ADJ.length] ?? ''} ${KEY_NOUN[Math.floor(i / KEY_ADJ.length) % KEY_NOUN.length] ?? ''}`;
}

const ONSET = ['b', 'd', 'f', 'g', 'k', 'l', 'm', 'n', 'p', 'r', 's', 't', 'v', 'z', 'br', 'dr', 'gl', 'kr', 'pl', 'st', 'tr'];
const VOWEL = ['a', 'e', 'i', 'o', 'u'];
const CODA = ['', '', '', 'n', 'r', 'l', 's', 'k'];

/** A pronounceable pseudo-word of 2–3 syllables, e.g. "tovelka" (lowercase letters only). */
export function pseudoWord(rng: Rng): string {
  const syllables = 2 + rng.int(2);
  let w = '';
  for (let i = 0; i < syllables; i++) w += pick(ONSET, rng) + pick(VOWEL, rng) + (i === syllables - 1 ? pick(CODA, rng) : '');
  return w;
}

/** `count` distinct pseudo-words (seeded). */
export function distinctPseudoWords(count: number, rng: Rng): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  let guard = 0;
  while (out.length < count) {
    const w = pseudoWord(rng);
    if (!seen.has(w)) {
      seen.add(w);
      out.push(w);
    }
    if (++guard > count * 50 + 1000) throw new RangeError(`cannot draw ${count} distinct pseudo-words`);
  }
  return out;
}
