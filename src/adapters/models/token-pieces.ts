/**
 * BPE merging is quadratic in the length of one pre-tokenized "word", so a megabyte of one
 * repeated character (or a minified line) would take minutes. Text is cut into pieces of at most
 * MAX characters before encoding: at a space between two letters or after a line break (the
 * encoders' own pre-tokenizer splits there too, so ordinary text counts exactly as before), else
 * hard every HARD characters (only text with no such gap in MAX/2 characters, whose count may then
 * differ by a token a cut).
 */
const MAX = 1024;
const HARD = 256;
const WORD_GAP = /\p{L} \p{L}|\n(?=[ \t"'\p{L}])/gu;

/** The last gap in text[from, to), as the index to cut at, or -1 (searched in a slice: linear). */
function lastGap(text: string, from: number, to: number): number {
  const window = text.slice(from, to);
  let found = -1;
  WORD_GAP.lastIndex = 0;
  for (let m = WORD_GAP.exec(window); m; m = WORD_GAP.exec(window)) {
    found = m.index + 1;
    WORD_GAP.lastIndex = m.index + 1;
  }
  return found < 0 ? -1 : from + found;
}

export function tokenPieces(text: string): string[] {
  if (text.length <= MAX) return [text];
  const out: string[] = [];
  let start = 0;
  while (text.length - start > MAX) {
    let cut = lastGap(text, start + MAX / 2, start + MAX);
    // BPE on one long word is the slow part: hard cuts are short.
    if (cut <= start) cut = start + HARD;
    out.push(text.slice(start, cut));
    start = cut;
  }
  out.push(text.slice(start));
  return out;
}

export function countPieces(count: (text: string) => number, text: string): number {
  let n = 0;
  for (const piece of tokenPieces(text)) n += count(piece);
  return n;
}
