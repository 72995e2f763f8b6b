/**
 * @paxos/wire: everything that carries messages between roles and services. Subject names,
 * schemas and the codec that validate inbound data at the boundary, W3C trace headers, the Bus
 * port (pub/sub and request/reply) and the Transport and service API built on it.
 */
export { ID_PATTERN, isValidId, checkId, clusterUser, WireError, type ClusterRole, type WireErrorCode } from "./ids.ts";
export { isJsonValue } from "./json-value.ts";
export { Subjects, type ParsedSubject, type ProposerSubjectKind, type LearnerSubjectKind } from "./subjects.ts";
export type {
  ProposeRequest,
  ProposeReply,
  ProposeStatus,
  ProposeBatch,
  ProposeBatchReply,
  Delivered,
  DeliveredBatch,
  DeliveredEvent,
  LogEntryWire,
  LearnerQuery,
  LearnerReply,
  AcceptorStatus,
} from "./service-messages.ts";
export {
  MESSAGE_TYPES,
  type MessageType,
  type ServiceKind,
  type ServiceMessages,
  type WireSchemas,
  wireSchemas,
  REQUEST_ID_CHARS_MAX,
  LEARNER_RANGE_LIMIT_MAX,
  counterSchema,
  idSchema,
  requestIdSchema,
  jsonValueSchema,
  ballotSchema,
  promisedBallotSchema,
} from "./schemas.ts";
export {
  WIRE_VERSION,
  encode,
  encodeService,
  decodeMessage,
  decodeService,
  type DecodeFailureReason,
  type DecodeFailure,
  type DecodeResult,
} from "./codec.ts";
export {
  TRACEPARENT_HEADER,
  TRACESTATE_HEADER,
  TRACESTATE_CHARS_MAX,
  type TraceContext,
  isValidTraceparent,
  withTraceContext,
  getTraceContext,
  traceHeaders,
} from "./trace.ts";
export { type Bus, type BusMessage, type BusSubscription, type BusErrorCode, BusError, subjectMatches } from "./bus.ts";
export { BusTransport, type BusTransportOptions, type DropHandler } from "./bus-transport.ts";
export {
  type ServiceOptions,
  type ServiceContext,
  type ServiceErrorCode,
  ServiceError,
  serveProposals,
  proposeBatch,
  serveLearnerQueries,
  queryLearners,
  publishDelivered,
  subscribeDelivered,
  publishAcceptorStatus,
  subscribeAcceptorStatus,
} from "./service-api.ts";
export { ProposeBatcher, type ProposeBatcherOptions } from "./propose-batcher.ts";
