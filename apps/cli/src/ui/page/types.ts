// Shapes the dashboard's API returns (server.ts, model.ts, @bottle/audit).
export type { BottleSummary, RouteInForce } from "../api-types.js";
import type { BottleSummary, RouteInForce } from "../api-types.js";


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
