/**
 * Token pieces as people read them. Tokenizers with byte fallback (SentencePiece
 * Llama vocabularies, the demo model's) write a character they have no piece for
 * as its UTF-8 bytes, one token each: `<0x0A>` is a newline, `<0xE6><0x97><0xA5>`
 * is 日. The retention overlay draws one span per token, so a byte run is
 * decoded and its character drawn on the run's first token (the others draw
 * nothing); control characters get a visible mark. Byte-level BPE pieces
 * (GPT-2's Ġ for a space, Ċ for a newline) and SentencePiece's ▁ read as the
 * whitespace they stand for.
 */

const BYTE = /^<0x([0-9A-Fa-f]{2})>$/;

const byteOf = (piece: string): number | null => {
  const m = BYTE.exec(piece);
  return m ? parseInt(m[1] ?? '', 16) : null;
};

/** Bytes a UTF-8 sequence starting with `lead` has (0 when `lead` cannot start one). */
function utf8Length(lead: number): number {
  if (lead < 0x80) return 1;
  if (lead >= 0xc2 && lead < 0xe0) return 2;
  if (lead >= 0xe0 && lead < 0xf0) return 3;
  if (lead >= 0xf0 && lead < 0xf5) return 4;
  return 0;
}

const hex = (b: number): string => `\\x${b.toString(16).toUpperCase().padStart(2, '0')}`;

/**
 * The text each piece stands for: byte runs decoded as UTF-8 (the character on
 * the first byte's token, '' on the rest; a byte that starts no valid sequence
 * as `\xNN`), ▁ and Ġ as spaces, Ċ as a newline.
 */
export function pieceTexts(pieces: readonly string[]): string[] {
  const out: string[] = new Array<string>(pieces.length);
  const decoder = new TextDecoder('utf-8', { fatal: true });
  for (let i = 0; i < pieces.length; i++) {
    const piece = pieces[i] ?? '';
    const b = byteOf(piece);
    if (b === null) {
      out[i] = piece.replaceAll('▁', ' ').replaceAll('Ġ', ' ').replaceAll('Ċ', '\n');
      continue;
    }
    const n = utf8Length(b);
    const bytes = [b];
    for (let k = 1; k < n; k++) {
      const next = byteOf(pieces[i + k] ?? '');
      if (next === null || (next & 0xc0) !== 0x80) break;
      bytes.push(next);
    }
    let text: string | null = null;
    if (n > 0 && bytes.length === n) {
      try {
        text = decoder.decode(Uint8Array.from(bytes));
      } catch {
        text = null; // an overlong or surrogate sequence: shown as bytes
      }
    }
    if (text === null) {
      out[i] = hex(b);
      continue;
    }
    out[i] = text;
    for (let k = 1; k < n; k++) out[i + k] = '';
    i += n - 1;
  }
  return out;
}

/** One character as drawn in the overlay: a newline as ↵ and a line break, a tab as ⇥, other control characters as \xNN. */
function visible(text: string): string {
  let out = '';
  for (const ch of text) {
    const c = ch.codePointAt(0) ?? 0;
    if (ch === '\n') out += '↵\n';
    else if (ch === '\t') out += '⇥\t';
    else if (c < 0x20 || c === 0x7f) out += hex(c);
    else out += ch;
  }
  return out;
}

/** The pieces as the retention overlay draws them (see the file header). */
export function displayPieces(pieces: readonly string[]): string[] {
  return pieceTexts(pieces).map(visible);
}

/** Decodes byte-token runs left in a text (`a<0x0A>b` → "a\nb"), for output from a tokenizer whose decode keeps them. */
export function decodeByteTokens(text: string): string {
  return text.replace(/(?:<0x[0-9A-Fa-f]{2}>)+/g, (run) => pieceTexts(run.match(/<0x[0-9A-Fa-f]{2}>/g) ?? []).join(''));
}

/**
 * The tokens [start, end) whose text holds `text` — whitespace ignored on both
 * sides, since pieces carry their spaces differently from the string they came
 * from — or null when it is not there. The first occurrence wins.
 */
export function findTextSpan(pieces: readonly string[], text: string): { start: number; end: number } | null {
  const target = text.replace(/\s+/g, '');
  if (!target) return null;
  let joined = '';
  const owner: number[] = [];
  pieceTexts(pieces).forEach((t, i) => {
    for (const ch of t.replace(/\s+/g, '')) {
      joined += ch;
      for (let k = 0; k < ch.length; k++) owner.push(i);
    }
  });
  const at = joined.indexOf(target);
  if (at < 0) return null;
  return { start: owner[at] ?? 0, end: (owner[at + target.length - 1] ?? 0) + 1 };
}
