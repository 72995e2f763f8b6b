/**
 * @paxos/core: Multi-Paxos as pure state machines. Each role takes an input (a message, a tick,
 * a client request) and returns what to persist, what to send once that is persisted, and what
 * was decided. Nothing here does I/O, reads a clock or draws random numbers of its own.
 */
export { type Ballot, ZERO_BALLOT, compareBallots, maxBallot, ballotKey } from "./ballot.ts";
export { InvariantViolation, invariant } from "./invariant.ts";
export { type Refusal, type RefusalReason } from "./refusal.ts";
export {
  type Limits,
  DEFAULT_LIMITS,
  ROUND_MAX,
  SLOT_MAX,
  MESSAGE_OVERHEAD_BYTES,
  ENTRY_OVERHEAD_BYTES,
  valueBytesMax,
  checkLimits,
} from "./limits.ts";
export * from "./messages.ts";
export { QuorumConfig } from "./quorum.ts";
export {
  type JsonValue,
  type ClientRequest,
  type SlotValue,
  NOOP,
  slotValueKey,
  sameSlotValue,
  requestBytes,
  slotValueBytes,
  utf8Bytes,
  BATCH_OVERHEAD_BYTES,
} from "./value.ts";
export {
  Acceptor,
  type AcceptorState,
  type AcceptorWrite,
  type AcceptorStep,
  type AcceptorInput,
  emptyAcceptorState,
} from "./acceptor.ts";
export {
  Proposer,
  type ProposerConfig,
  type ProposerRole,
  type ProposerStep,
  type Rejection,
  type RejectionReason,
} from "./proposer.ts";
export { Learner, type LearnerConfig, type LearnerStep, type Delivery, type LogEntry } from "./learner.ts";
export {
  type AcceptorStore,
  type AcceptorStoreErrorCode,
  AcceptorStoreError,
  type LearnerStore,
  type Role,
  type Endpoint,
  type Transport,
} from "./ports.ts";
