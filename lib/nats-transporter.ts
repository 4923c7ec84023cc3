import { Transporters, type ServiceBroker } from "moleculer";

interface NatsStatus {
  type: string;
}

interface NatsTransporterShape {
  client: { status(): AsyncIterable<NatsStatus> } | null;
  connected: boolean;
  broker: ServiceBroker;
  logger: { warn(...args: unknown[]): void; info(...args: unknown[]): void };
  connect(): Promise<unknown>;
  onConnected(wasReconnect?: boolean): Promise<unknown>;
}

interface TransitShape {
  connected: boolean;
  discoverer: { remoteNodeDisconnected(nodeID: string, isUnexpected: boolean): void };
  pendingRequests: Map<string, { nodeID: string }>;
  removePendingRequestByNodeID(nodeID: string): void;
}

const NatsTransporter = Transporters.NATS as unknown as new (opts?: object) => NatsTransporterShape;

/**
 * Moleculer's NATS transporter, aware of its connection. Moleculer's own one lets the NATS
 * client reconnect silently: while NATS is unreachable the node still believes it is
 * connected, so every call waits out its full timeout. This one follows the client's
 * status: on a disconnect it marks the transporter down — new calls fail at once with
 * BrokerDisconnectedError (the gateway answers 503) and calls waiting for an answer are
 * released — and on a reconnect it runs moleculer's reconnect path (announce this node,
 * discover the others) so service resumes as soon as NATS is back.
 */
export class WatchfulNatsTransporter extends NatsTransporter {
  override async connect(): Promise<unknown> {
    const result = await super.connect();
    this.watch();
    return result;
  }

  private watch(): void {
    const client = this.client;
    if (!client) return;
    void (async () => {
      for await (const status of client.status()) {
        if (status.type === "disconnect") this.lost();
        else if (status.type === "reconnect") await this.regained();
      }
    })().catch(() => undefined);
  }

  private get transitOf(): TransitShape | undefined {
    return (this.broker as unknown as { transit?: TransitShape }).transit;
  }

  private lost(): void {
    if (!this.connected) return;
    this.logger.warn("NATS connection lost; calls fail fast until it is back");
    this.connected = false;
    const transit = this.transitOf;
    if (!transit) return;
    transit.connected = false;
    // Their answers cannot arrive while we are cut off: release the callers now.
    const nodes = new Set([...transit.pendingRequests.values()].map(req => req.nodeID));
    for (const nodeID of nodes) transit.removePendingRequestByNodeID(nodeID);
    // Forget the other nodes: none is reachable now, and after the outage each one is
    // known again only once it has answered our discovery or announced itself — i.e.
    // once it is back on NATS too. Otherwise a call could go to a node that has not
    // reconnected yet and be lost there, waiting out its whole timeout.
    const registry = this.broker.registry as unknown as {
      nodes: { toArray(): Array<{ id: string; local: boolean; available: boolean }> };
    };
    for (const node of registry.nodes.toArray()) {
      if (!node.local && node.available) transit.discoverer.remoteNodeDisconnected(node.id, true);
    }
    this.broker.broadcastLocal("$transporter.disconnected", { graceFul: false });
  }

  private async regained(): Promise<void> {
    if (this.connected) return;
    this.logger.warn("NATS connection restored; discovering the other nodes");
    await this.onConnected(true);
  }
}
