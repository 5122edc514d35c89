export {
  createRequest,
  decideRequest,
  listRequests,
  readRequest,
  revokeRequest,
  routeFromApprovedRequest,
  waitForDecision,
  writeRequest,
} from "./store.js";
export type { Decision, NewRequest, WaitOptions } from "./store.js";
export { HTTP_METHODS, MAX_WAIT_SECONDS, routeHostProblem, superviseRequestSchema } from "./schema.js";
export type { EgressRouteRequest, QuestionRequest, RequestStatus, SuperviseRequest } from "./schema.js";
export { createSuperviseMcpServer, describeRequest, startSuperviseServer } from "./server.js";
export type { RunningSupervise, SuperviseHttpOptions, SuperviseServerOptions } from "./server.js";
export { checkNarrowing } from "./narrow.js";
export type { Narrowing } from "./narrow.js";
