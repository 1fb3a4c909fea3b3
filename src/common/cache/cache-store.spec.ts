import { describe, expect, it } from '@jest/globals';
import { defaultDeserialize, defaultSerialize } from '@keyv/serialize';
import fc from 'fast-check';
import { deserializeEntry } from './cache-store.js';

describe('deserializeEntry', () => {
  it('reads every entry exactly as Keyv’s own deserializer does', () => {
    // Strings that start with ':' (which Keyv escapes) and keys that end with one are common.
    const text = fc.oneof(
      fc.string(),
      fc.string().map((value) => `:${value}`),
    );
    const json = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: 'small' },
        text,
        fc.integer(),
        fc.boolean(),
        fc.constant(null),
        fc.array(tie('value'), { maxLength: 4 }),
        fc.dictionary(text, tie('value'), { maxKeys: 4 }),
      ),
    })).value;
    fc.assert(
      fc.property(json, (value) => {
        const stored = defaultSerialize({ value, expires: 1 });
        expect(deserializeEntry(stored)).toEqual(defaultDeserialize(stored));
      }),
      { numRuns: 2_000 },
    );
  });

  it('undoes Keyv’s escaping of strings that start with a colon', () => {
    const stored = defaultSerialize({ value: { title: ':colon', tags: [':a', 'b:'] } });
    expect(deserializeEntry(stored)).toEqual({ value: { title: ':colon', tags: [':a', 'b:'] } });
  });
});
