// Preloaded (`node --import`) by scripts/test.sh for vitest on Node 20: vitest 5 targets
// Node >= 22 and calls Map.groupBy / Object.groupBy (Node 21+) when it reports failures
// and writes snapshots; without these the failure report itself crashes.
if (typeof Map.groupBy !== "function") {
  Object.defineProperty(Map, "groupBy", {
    configurable: true,
    writable: true,
    value(items, keyOf) {
      const map = new Map();
      let index = 0;
      for (const item of items) {
        const key = keyOf(item, index++);
        const group = map.get(key);
        if (group) group.push(item);
        else map.set(key, [item]);
      }
      return map;
    },
  });
}
if (typeof Object.groupBy !== "function") {
  Object.defineProperty(Object, "groupBy", {
    configurable: true,
    writable: true,
    value(items, keyOf) {
      const out = Object.create(null);
      let index = 0;
      for (const item of items) {
        const key = keyOf(item, index++);
        (out[key] ??= []).push(item);
      }
      return out;
    },
  });
}
