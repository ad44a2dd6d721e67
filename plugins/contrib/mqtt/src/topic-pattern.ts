/**
 * `store_from` patterns: an MQTT topic filter in which one level is written `+store` and names
 * the store, e.g. `sensors/+store/#` takes `sensors/greenhouse/temp` into store `greenhouse`.
 * `+` matches any one level, `#` (last) any number of levels, other levels match literally.
 */
export interface TopicPattern {
  /** The filter to subscribe to (`+store` written as `+`). */
  readonly filter: string;
  /** The store named by `topic`, or undefined when the topic does not fit the pattern. */
  storeOf(topic: string): string | undefined;
}

/** Parses a pattern; throws an Error saying what is wrong with it. */
export function parseTopicPattern(pattern: string): TopicPattern {
  const levels = pattern.split('/');
  const storeAt = levels.indexOf('+store');
  if (storeAt < 0 || levels.lastIndexOf('+store') !== storeAt) throw new Error('needs exactly one level written "+store"');
  levels.forEach((level, i) => {
    if (level === '#' && i !== levels.length - 1) throw new Error('"#" may only be the last level');
    if (level !== '+store' && level !== '+' && level !== '#' && /[+#]/.test(level)) throw new Error(`level "${level}": "+" and "#" must stand alone`);
  });
  const multi = levels[levels.length - 1] === '#';
  const fixed = multi ? levels.length - 1 : levels.length;
  return {
    filter: levels.map((l) => (l === '+store' ? '+' : l)).join('/'),
    storeOf(topic) {
      const parts = topic.split('/');
      if (multi ? parts.length < fixed : parts.length !== fixed) return undefined;
      for (let i = 0; i < fixed; i++) {
        const l = levels[i];
        if (l !== '+' && l !== '+store' && l !== parts[i]) return undefined;
      }
      const store = parts[storeAt];
      return store === '' ? undefined : store;
    },
  };
}
