import assert from "node:assert/strict";
import { describe, it } from "vitest";
import { StopSequenceFilter } from "./text-stream.ts";

describe("stop sequences", () => {
  it("pass text through unchanged without stop sequences", () => {
    const f = new StopSequenceFilter([]);
    assert.equal(f.push("hello "), "hello ");
    assert.equal(f.push("world"), "world");
    assert.equal(f.flush(), "");
    assert.equal(f.text, "hello world");
    assert.equal(f.stopped, false);
  });

  it("hold back a possible start of a stop sequence and release it when it is not one", () => {
    const f = new StopSequenceFilter(["END"]);
    assert.equal(f.push("the E"), "the ");
    assert.equal(f.push("N"), "");
    assert.equal(f.push("ter"), "ENter");
    assert.equal(f.stopped, false);
  });

  it("cut the text before the first stop sequence, even across pieces", () => {
    const f = new StopSequenceFilter(["###", "END"]);
    assert.equal(f.push("one E"), "one ");
    assert.equal(f.push("ND two"), "");
    assert.equal(f.stopped, true);
    assert.equal(f.text, "one ");
    assert.equal(f.push("more"), "");
    assert.equal(f.flush(), "");
  });

  it("flush what was held back when generation ends", () => {
    const f = new StopSequenceFilter(["<stop>"]);
    assert.equal(f.push("a <st"), "a ");
    assert.equal(f.flush(), "<st");
    assert.equal(f.text, "a <st");
  });
});
