// Shapes the dashboard's API returns (server.ts, model.ts, @bottle/audit).
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

export interface SuperviseRequest {
  id: string;
  kind: "egress-route" | "question";
  status: "pending" | "approved" | "denied";
  createdAt: string;
  request: { host?: string; methods?: string[]; ports?: number[]; reason?: string; question?: string };
  decision?: { at: string; reason?: string; answer?: string; by?: string; methods?: string[]; paths?: string[] };
  revoked?: { at: string; by?: string; reason?: string };
}

export interface AuditEvent {
  time: string;
  id: string;
  source: "egress" | "git-gate" | "supervise" | "routes";
  kind: string;
  outcome: string;
  summary: string;
  thread?: string;
  links: string[];
  reason?: string;
  http?: { method: string; host: string; port: number; path: string; status: number; route: string | null };
  request?: { host?: string };
  routes?: { hosts: string[] };
  git?: { repo: string };
}

export interface BottleDetail {
  summary: BottleSummary;
  routes: RouteInForce[];
  requests: SuperviseRequest[];
  events?: AuditEvent[];
  total?: number;
}
