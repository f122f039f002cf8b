/** Byte helpers shared by the hand-written tokenizers (SentencePiece and llama2.c decode to bytes first). */
const utf8 = new TextDecoder('utf-8');

/** Joins byte pieces and decodes them as UTF-8 (a piece may hold part of a character; invalid bytes become U+FFFD). */
export function decodeUtf8(chunks: readonly Uint8Array[]): string {
  let total = 0;
  for (const c of chunks) total += c.length;
  const all = new Uint8Array(total);
  let o = 0;
  for (const c of chunks) {
    all.set(c, o);
    o += c.length;
  }
  return utf8.decode(all);
}
