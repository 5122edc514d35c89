// Shapes shared by the host side (steer.ts, model.ts) and the dashboard page, which is
// type-checked for the browser and so imports nothing of Node's.

/** One bottle in the dashboard's list. */
export interface BottleSummary {
  slug: string;
  bottle: string;
  backend: string;
  running: boolean;
  startedAt: string;
  stoppedAt?: string;
  pending: number;
  routes: number;
  deniedLastHour: number;
  blockedLastHour: number;
}

/** A route in force, with where it came from (the manifest, or an approval: who, when, why). */
export interface RouteInForce {
  id: string;
  host: string;
  ports: number[];
  methods: string[];
  paths: string[];
  origin: "manifest" | "approved";
  credential: boolean;
  requestId?: string;
  approvedBy?: string;
  approvedAt?: string;
  why?: string;
}
