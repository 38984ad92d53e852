// The endpoint records: one row per CNI attachment in the shared state
// database (<stateDir>/fairway.db, migration set "endpoint"). A row is written
// before the kernel is touched ('creating'), marked 'ready' when the endpoint
// works and 'deleting' before it is torn down, so a restart knows what a crash
// interrupted. Every statement is prepared once; ADD and DEL touch rows by
// primary or unique key only.
//
//   endpoints  id (the datapath's endpoint id, never reused: AUTOINCREMENT),
//              (container_id, ifname) unique, host_ifname unique

import { type MigrationSet, type StateDb, translateSqliteError } from "../ipam/index.ts";

export const ENDPOINT_MIGRATIONS: MigrationSet = {
  owner: "endpoint",
  migrations: [
    {
      name: "001-endpoints",
      sql: `
        CREATE TABLE endpoints (
          id            INTEGER PRIMARY KEY AUTOINCREMENT,
          network       TEXT    NOT NULL,
          container_id  TEXT    NOT NULL,
          ifname        TEXT    NOT NULL,
          netns         TEXT    NOT NULL,
          pod_namespace TEXT,
          pod_name      TEXT,
          pod_uid       TEXT,
          host_ifname   TEXT    NOT NULL UNIQUE,
          host_ifindex  INTEGER,
          host_mac      TEXT    NOT NULL,
          pod_mac       TEXT    NOT NULL,
          mtu           INTEGER NOT NULL,
          ips           TEXT    NOT NULL,
          state         TEXT    NOT NULL CHECK (state IN ('creating', 'ready', 'deleting')),
          created_at    TEXT    NOT NULL,
          updated_at    TEXT    NOT NULL,
          UNIQUE (container_id, ifname)
        );
      `,
    },
  ],
};

export type EndpointState = "creating" | "ready" | "deleting";

export interface EndpointRow {
  id: number;
  network: string;
  containerId: string;
  ifname: string;
  netns: string;
  podNamespace: string | null;
  podName: string | null;
  podUid: string | null;
  hostIfname: string;
  /** null until the veth exists */
  hostIfindex: number | null;
  hostMac: string;
  podMac: string;
  mtu: number;
  /** bare addresses, IPv4 first */
  ips: string[];
  state: EndpointState;
  createdAt: string;
  updatedAt: string;
}

export type NewEndpointRow = Omit<EndpointRow, "id" | "hostIfindex" | "state" | "updatedAt">;

const COLUMNS = `id, network, container_id AS containerId, ifname, netns,
  pod_namespace AS podNamespace, pod_name AS podName, pod_uid AS podUid,
  host_ifname AS hostIfname, host_ifindex AS hostIfindex, host_mac AS hostMac,
  pod_mac AS podMac, mtu, ips, state, created_at AS createdAt, updated_at AS updatedAt`;

type RawRow = Omit<EndpointRow, "ips"> & { ips: string };

const fromRaw = (r: RawRow | undefined): EndpointRow | undefined =>
  r === undefined ? undefined : { ...r, ips: JSON.parse(r.ips) as string[] };

export class EndpointStore {
  private readonly s;

  constructor(
    private readonly db: StateDb,
    private readonly now: () => number = Date.now,
  ) {
    const p = (sql: string) => db.prepare(sql);
    this.s = {
      byKey: p(`SELECT ${COLUMNS} FROM endpoints WHERE container_id = ? AND ifname = ?`),
      byId: p(`SELECT ${COLUMNS} FROM endpoints WHERE id = ?`),
      byHostIfname: p(`SELECT ${COLUMNS} FROM endpoints WHERE host_ifname = ?`),
      byContainer: p(`SELECT ${COLUMNS} FROM endpoints WHERE container_id = ? ORDER BY ifname`),
      all: p(`SELECT ${COLUMNS} FROM endpoints ORDER BY id`),
      count: p("SELECT count(*) FROM endpoints").pluck(),
      insert: p(`INSERT INTO endpoints (network, container_id, ifname, netns, pod_namespace,
          pod_name, pod_uid, host_ifname, host_mac, pod_mac, mtu, ips, state, created_at, updated_at)
        VALUES (@network, @containerId, @ifname, @netns, @podNamespace, @podName, @podUid,
          @hostIfname, @hostMac, @podMac, @mtu, @ips, 'creating', @createdAt, @createdAt)`),
      ready: p(
        "UPDATE endpoints SET state = 'ready', host_ifindex = ?, updated_at = ? WHERE id = ?",
      ),
      setState: p("UPDATE endpoints SET state = ?, updated_at = ? WHERE id = ?"),
      setIfindex: p("UPDATE endpoints SET host_ifindex = ?, updated_at = ? WHERE id = ?"),
      remove: p("DELETE FROM endpoints WHERE id = ?"),
    };
  }

  get(containerId: string, ifname: string): EndpointRow | undefined {
    return this.run("reading an endpoint", () =>
      fromRaw(this.s.byKey.get(containerId, ifname) as RawRow | undefined),
    );
  }

  byId(id: number): EndpointRow | undefined {
    return this.run("reading an endpoint", () =>
      fromRaw(this.s.byId.get(id) as RawRow | undefined),
    );
  }

  byHostIfname(hostIfname: string): EndpointRow | undefined {
    return this.run("reading an endpoint", () =>
      fromRaw(this.s.byHostIfname.get(hostIfname) as RawRow | undefined),
    );
  }

  byContainer(containerId: string): EndpointRow[] {
    return this.run("reading endpoints", () =>
      (this.s.byContainer.all(containerId) as RawRow[]).map((r) => fromRaw(r)!),
    );
  }

  all(): EndpointRow[] {
    return this.run("listing endpoints", () =>
      (this.s.all.all() as RawRow[]).map((r) => fromRaw(r)!),
    );
  }

  count(): number {
    return this.run("counting endpoints", () => Number(this.s.count.get()));
  }

  /** Inserts a 'creating' row; returns it with its id. Committed on return. */
  insert(row: NewEndpointRow): EndpointRow {
    const info = this.run("recording an endpoint", () =>
      this.s.insert.run({ ...row, ips: JSON.stringify(row.ips) }),
    );
    const id = Number(info.lastInsertRowid);
    return {
      ...row,
      id,
      hostIfindex: null,
      state: "creating",
      updatedAt: row.createdAt,
    };
  }

  markReady(id: number, hostIfindex: number): void {
    this.run("marking an endpoint ready", () => this.s.ready.run(hostIfindex, this.stamp(), id));
  }

  setState(id: number, state: EndpointState): void {
    this.run(`marking an endpoint ${state}`, () => this.s.setState.run(state, this.stamp(), id));
  }

  setIfindex(id: number, hostIfindex: number): void {
    this.run("updating an endpoint", () => this.s.setIfindex.run(hostIfindex, this.stamp(), id));
  }

  remove(id: number): void {
    this.run("deleting an endpoint", () => this.s.remove.run(id));
  }

  close(): void {
    this.db.close();
  }

  private stamp(): string {
    return new Date(this.now()).toISOString();
  }

  private run<T>(doing: string, fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw translateSqliteError(err, doing);
    }
  }
}
