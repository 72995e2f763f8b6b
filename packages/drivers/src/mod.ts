/**
 * @paxos/drivers: the deterministic loop around each core role (step, persist, send, timeouts,
 * store reopen and append retries), with the clock, timers, stores and transport injected. The
 * services run these drivers with real timers, NATS and Redis; the simulator runs the very same
 * drivers with a virtual clock, simulated stores and the wire codec over a simulated bus.
 */
export { type Clock, type Timer, every } from "./clock.ts";
export { type HostLimits, DEFAULT_HOST_LIMITS } from "./host-limits.ts";
export {
  type Outcome,
  type DriverAcceptorStore,
  type DriverLearnerStore,
  drivenAcceptorStore,
  drivenLearnerStore,
} from "./store-ports.ts";
export {
  AcceptorDriver,
  type AcceptorDriverOptions,
  type AcceptorCore,
  type AcceptorEvent,
} from "./acceptor-driver.ts";
export {
  ProposerDriver,
  type ProposerDriverOptions,
  type ProposerCore,
  type ProposerEvent,
  type ProposeOutcome,
} from "./proposer-driver.ts";
export { LearnerDriver, type LearnerDriverOptions, type LearnerCore, type LearnerEvent } from "./learner-driver.ts";
