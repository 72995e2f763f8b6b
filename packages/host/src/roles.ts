import type { AcceptorStore, LearnerStore, Limits } from "@paxos/core";
import type { HostLimits } from "@paxos/drivers";
import { publishAcceptorStatus, publishDelivered, serveLearnerQueries, serveProposals } from "@paxos/wire";
import { AcceptorHost } from "./acceptor-host.ts";
import { type BusWiringOptions, wireBus } from "./bus-wiring.ts";
import { LearnerHost } from "./learner-host.ts";
import { ProposerHost } from "./proposer-host.ts";

/**
 * What every role needs to run over a Bus: the pieces `wireBus` joins (the bus, its subjects, the
 * acceptor set, the logger, the role's own registry from createRegistry, the fatal handler and
 * optional limits).
 */
export type RoleContext = BusWiringOptions;

/** A role running over a Bus. `stop` ends its intake, drains it and closes its store. */
export interface RunningRole<H> {
  readonly host: H;
  stop(): Promise<void>;
}

function limitsOf(context: RoleContext): { limits?: Limits; hostLimits?: Partial<HostLimits> } {
  return {
    ...(context.limits === undefined ? {} : { limits: context.limits }),
    ...(context.hostLimits === undefined ? {} : { hostLimits: context.hostLimits }),
  };
}

/**
 * Starts acceptor `acceptorId` over the bus: the host votes once its store opens, and its status
 * is published every second. Resolves after the first open attempt (see AcceptorHost.start).
 * `createStore` must honour `firstOpen` (see AcceptorHostOptions.createStore).
 */
export async function startAcceptorRole(
  context: RoleContext,
  acceptorId: string,
  createStore: (options: { readonly firstOpen: boolean }) => AcceptorStore,
): Promise<RunningRole<AcceptorHost>> {
  const { transport } = wireBus(context);
  const host = new AcceptorHost({
    acceptorId,
    createStore,
    transport,
    logger: context.logger,
    registry: context.registry,
    onFatal: context.onFatal,
    publishStatus: (status) => publishAcceptorStatus(context.bus, context.subjects, status),
    ...limitsOf(context),
  });
  await host.start();
  return {
    host,
    stop: async () => {
      await host.stop();
      await transport.close();
    },
  };
}

/** Starts a proposer over the bus and serves ProposeRequests addressed to it. */
export function startProposerRole(context: RoleContext, proposerId: string): RunningRole<ProposerHost> {
  const { transport, serviceOptions } = wireBus(context);
  const host = new ProposerHost({
    proposerId,
    acceptorIds: context.acceptorIds,
    transport,
    logger: context.logger,
    registry: context.registry,
    onFatal: context.onFatal,
    ...limitsOf(context),
  });
  host.start();
  const serving = serveProposals(
    context.bus,
    context.subjects,
    proposerId,
    (proposals, ctx) => host.proposeMany(proposals, ctx),
    serviceOptions,
  );
  return {
    host,
    stop: async () => {
      serving.unsubscribe();
      host.stop();
      await transport.close();
    },
  };
}

/**
 * Starts learner `learnerId` over the bus: loads its log, publishes a DeliveredBatch for every
 * durable append's deliveries, and answers LearnerQueries. Rejects when its store cannot be loaded.
 */
export async function startLearnerRole(
  context: RoleContext,
  learnerId: string,
  createStore: () => LearnerStore,
): Promise<RunningRole<LearnerHost>> {
  const { transport, serviceOptions } = wireBus(context);
  const host = new LearnerHost({
    learnerId,
    acceptorIds: context.acceptorIds,
    createStore,
    transport,
    logger: context.logger,
    registry: context.registry,
    onFatal: context.onFatal,
    publishDelivered: (deliveries, headers) =>
      publishDelivered(context.bus, context.subjects, learnerId, deliveries, { ...headers }, context.limits),
    ...limitsOf(context),
  });
  await host.start();
  const serving = serveLearnerQueries(context.bus, context.subjects, learnerId, (q) => host.query(q), serviceOptions);
  return {
    host,
    stop: async () => {
      serving.unsubscribe();
      await host.stop();
      await transport.close();
    },
  };
}
