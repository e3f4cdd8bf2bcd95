/**
 * Turns generated text pieces into what may be shown: holds back a trailing piece that
 * could still become a stop sequence, and cuts the text at the first stop sequence.
 * Pure and synchronous, so it is tested on its own.
 */
export class StopSequenceFilter {
  readonly #stops: string[];
  #text = "";
  #emitted = 0;
  #stopped = false;

  constructor(stops: readonly string[]) {
    this.#stops = stops.filter((s) => s.length > 0);
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  /** Adds generated text; returns the part now safe to emit ("" if none). */
  push(piece: string): string {
    if (this.#stopped) return "";
    this.#text += piece;
    let cut = -1;
    for (const s of this.#stops) {
      const at = this.#text.indexOf(s, Math.max(0, this.#emitted - s.length + 1));
      if (at >= 0 && (cut < 0 || at < cut)) cut = at;
    }
    if (cut >= 0) {
      this.#stopped = true;
      this.#text = this.#text.slice(0, cut);
      return this.#take(this.#text.length);
    }
    return this.#take(this.#text.length - this.#heldBack());
  }

  /** At the end of generation: everything still held back. */
  flush(): string {
    return this.#take(this.#text.length);
  }

  /** The whole text so far, stop sequence excluded. */
  get text(): string {
    return this.#text;
  }

  /** Length of the longest suffix of the unemitted text that is a proper prefix of a stop sequence. */
  #heldBack(): number {
    let longest = 0;
    const tail = this.#text.slice(this.#emitted);
    for (const s of this.#stops) {
      for (let n = Math.min(s.length - 1, tail.length); n > longest; n--) {
        if (tail.endsWith(s.slice(0, n))) {
          longest = n;
          break;
        }
      }
    }
    return longest;
  }

  #take(end: number): string {
    if (end <= this.#emitted) return "";
    const out = this.#text.slice(this.#emitted, end);
    this.#emitted = end;
    return out;
  }
}
