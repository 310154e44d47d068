// The two string tables must have exactly the same keys and placeholders,
// so no screen is left half-translated.
import { test } from "node:test";
import assert from "node:assert/strict";
import en from "../web/i18n/en.js";
import fr from "../web/i18n/fr.js";

test("English and French tables have the same keys and placeholders", () => {
  assert.deepEqual(Object.keys(fr).sort(), Object.keys(en).sort());
  const params = (s) => (s.match(/\{\w+\}/g) || []).sort();
  for (const k of Object.keys(en)) {
    assert.deepEqual(params(fr[k]), params(en[k]), `placeholders of ${k}`);
    assert.ok(fr[k].trim() && en[k].trim(), `${k} is not empty`);
  }
});
