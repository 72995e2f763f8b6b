/**
 * @paxos/store-records: what the acceptor and learner stores write to disk, shared by every
 * store adapter. The stored record format (ballots, slots, values and the acceptor identity, each
 * parsed strictly on load) and the compare-and-write rule of the in-process acceptor stores.
 */
export {
  type IdentityRecord,
  RecordError,
  isValidProposerId,
  parseSafeInteger,
  parseBallot,
  parseSlotValue,
  parseJsonObject,
  isObject,
  encodeIdentity,
  decodeIdentity,
  encodeAcceptedEntry,
  decodeAcceptedEntry,
  checkAcceptorWrite,
} from "./stored-records.ts";
export { type StoredAcceptorState, refusal, superseded, applyWrite, snapshot } from "./acceptor-write-rule.ts";
