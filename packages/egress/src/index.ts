export {
  renderRoutesFile,
  parseRoutesFile,
  matchRoute,
  hostMatches,
  type EgressRoutePlan,
  type HeaderInjection,
  type RoutesFile,
  type RoutesSource,
  type RouteMatch,
} from "./routes.js";
export { startEgressProxy, denyText, type EgressProxy, type EgressProxyOptions } from "./proxy.js";
export { createLeakDetector, encodedForms, type LeakDetector } from "./leaks.js";
export type { AuditRecord, AuditDecision } from "./audit.js";
export { redactionMarker, findingLabel } from "./redact.js";
