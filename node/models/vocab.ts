/**
 * Deterministic vocabularies for the generated models: a SentencePiece-style vocab with
 * byte fallback for the llama chat model, and a WordPiece vocab (in llama.cpp's
 * "phantom space" form: word starts carry U+2581, continuations are bare) for the bert
 * embedding model. Common English words are whole tokens, so tokenization is plausible and
 * embeddings of texts that share words end up close even with random weights.
 */

export const SPACE = "\u2581";

const WORDS = `the of and to in is you that it he was for on are as with his they at be this have
from or one had by word but not what all were we when your can said there use an each which she do
how their if will up other about out many then them these so some her would make like him into time
has look two more write go see number no way could people my than first water been call who oil its
now find long down day did get come made may part over new sound take only little work know place
year live me back give most very after thing our just name good sentence man think say great where
help through much before line right too mean old any same tell boy follow came want show also around
form three small set put end does another well large must big even such because turn here why ask
went men read need land different home us move try kind hand picture again change off play spell air
away animal house point page letter mother answer found study still learn should america world high
capital france paris model host renter token price job chain market answer question cat dog weather
sun rain city river mountain computer network machine learning inference stream escrow stake`
  .split(/\s+/)
  .filter(Boolean);

const PRINTABLE = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).filter(
  (c) => c !== " ",
);

/** Filler pieces ("ka", "kel", ...) to reach a target vocab size. */
function* fillers(): Generator<string> {
  const cons = "bcdfghjklmnprstvwz";
  const vows = "aeiou";
  for (let len = 1; ; len++) {
    const total = (cons.length * vows.length) ** len;
    for (let n = 0; n < total; n++) {
      let s = "";
      let k = n;
      for (let i = 0; i < len; i++) {
        const syl = k % (cons.length * vows.length);
        k = Math.floor(k / (cons.length * vows.length));
        s += (cons[syl % cons.length] as string) + (vows[Math.floor(syl / cons.length)] as string);
      }
      yield s;
    }
  }
}

/** llama.cpp token types. */
const TokenType = { Normal: 1, Unknown: 2, Control: 3, Byte: 6 } as const;
type TokenType = (typeof TokenType)[keyof typeof TokenType];

export interface Vocab {
  tokens: string[];
  scores: number[];
  types: number[];
  /** Ids of the special tokens by name. */
  special: Record<string, number>;
  /** Id of the first ordinary piece (after special and byte tokens). */
  firstPiece: number;
}

function builder() {
  const tokens: string[] = [];
  const types: number[] = [];
  const seen = new Set<string>();
  const add = (t: string, type: TokenType = TokenType.Normal) => {
    if (seen.has(t)) return;
    seen.add(t);
    tokens.push(t);
    types.push(type);
  };
  return { tokens, types, add, has: (t: string) => seen.has(t) };
}

/**
 * SentencePiece (llama.cpp "llama" tokenizer) vocab of exactly `size` tokens: <unk>, <s>,
 * </s>, the ChatML markers, 256 byte tokens, then pieces. Every prefix of a word piece is a
 * piece too, so the merge-based tokenizer can reach whole words.
 */
export function sentencePieceVocab(size: number): Vocab {
  const b = builder();
  b.add("<unk>", TokenType.Unknown);
  b.add("<s>", TokenType.Control);
  b.add("</s>", TokenType.Control);
  b.add("<|im_start|>", TokenType.Control);
  b.add("<|im_end|>", TokenType.Control);
  for (let i = 0; i < 256; i++)
    b.add(`<0x${i.toString(16).toUpperCase().padStart(2, "0")}>`, TokenType.Byte);
  const firstPiece = b.tokens.length;
  b.add(SPACE);
  for (const c of PRINTABLE) b.add(c);
  for (const c of PRINTABLE) b.add(SPACE + c);
  for (const w of WORDS) for (let i = 2; i <= w.length; i++) b.add(SPACE + w.slice(0, i));
  const fill = fillers();
  while (b.tokens.length < size) {
    const f = fill.next().value as string;
    b.add(b.tokens.length % 2 ? SPACE + f : f);
  }
  if (b.tokens.length > size)
    throw new RangeError(`vocab needs at least ${b.tokens.length} tokens`);
  // Earlier pieces are "more frequent": higher (less negative) scores win merges.
  const scores = b.tokens.map((_, i) => (b.types[i] === TokenType.Normal ? -i : 0));
  return {
    tokens: b.tokens,
    scores,
    types: b.types,
    special: { unk: 0, bos: 1, eos: 2, imStart: 3, imEnd: 4 },
    firstPiece,
  };
}

/** WordPiece (llama.cpp "bert" tokenizer) vocab of exactly `size` tokens. */
export function wordPieceVocab(size: number): Vocab {
  const b = builder();
  for (const s of ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]) b.add(s, TokenType.Control);
  const lower = PRINTABLE.filter((c) => c === c.toLowerCase());
  for (const c of lower) b.add(SPACE + c);
  for (const c of lower) b.add(c);
  for (const w of WORDS) b.add(SPACE + w);
  const fill = fillers();
  while (b.tokens.length < size) {
    const f = fill.next().value as string;
    b.add(b.tokens.length % 2 ? SPACE + f : f);
  }
  if (b.tokens.length > size)
    throw new RangeError(`vocab needs at least ${b.tokens.length} tokens`);
  return {
    tokens: b.tokens,
    scores: b.tokens.map(() => 0),
    types: b.types,
    special: { pad: 0, unk: 1, cls: 2, sep: 3, mask: 4 },
    firstPiece: 5,
  };
}
