// The store as text, one object per line, for `fairway debug tables` and for
// golden tests (the same format in both, so bug reports and tests compare).
// resourceVersions are left out: they change with every write (or content
// hash) and would make goldens brittle.

import type { KindName } from "./kinds.ts";
import { formatSelector } from "./selector.ts";
import type { ClusterStoreReader } from "./store.ts";

/**
 * "Pod shop/web-1 app=web,tier=front" lines, kinds in registry order, keys
 * sorted; a header line gives the revision and the kinds still unsynced.
 */
export function formatStore(
  store: ClusterStoreReader,
  kinds: readonly KindName[] = store.kinds,
): string {
  const waiting = store.kinds.filter((k) => !store.isSynced(k));
  const lines = [
    `# revision ${store.revision}${waiting.length ? `, waiting for ${waiting.join(", ")}` : ", synced"}`,
  ];
  for (const kind of kinds) {
    for (const obj of store.list(kind)) {
      const key =
        obj.metadata.namespace === undefined
          ? obj.metadata.name
          : `${obj.metadata.namespace}/${obj.metadata.name}`;
      const labels = formatSelector({ matchLabels: obj.metadata.labels ?? {} });
      lines.push(labels ? `${kind} ${key} ${labels}` : `${kind} ${key}`);
    }
  }
  return `${lines.join("\n")}\n`;
}
