import { Errors, Transporters, type Packet as Packets, type Transit } from "moleculer";

type Packet = Packets.Packet<Packets.PacketPayload>;

/**
 * How long a node connected to a NATS cluster waits for its client to move to another server
 * before it treats the loss as an outage of the whole cluster. Moving to a live server of the
 * cluster takes a few milliseconds on a LAN; two seconds leave room for a loaded machine.
 */
export const CLUSTER_FAILOVER_GRACE_MS = 2_000;
/** Packets held while moving between cluster servers: a few milliseconds of a busy node's traffic. */
const HELD_PACKETS_MAX = 10_000;

interface HeldPacket {
  topic: string;
  data: Buffer;
  /** The peer it is addressed to; none for a broadcast. */
  target?: string;
  sent: () => void;
}

/**
 * Moleculer's NATS transporter, aware of its connection. Moleculer's own one lets the NATS
 * client reconnect silently: while NATS is unreachable the node still believes it is
 * connected, so every call waits out its full timeout (the client drops what is published
 * while it is away). This one follows the client's status, and on a disconnect releases the
 * calls waiting for an answer: an answer sent while we are away is dropped by NATS.
 *
 * With a single NATS server a disconnect is an outage: calls fail at once with
 * BrokerDisconnectedError (the gateway answers 503), the other nodes are forgotten (see
 * lost()) and service resumes through moleculer's reconnect path once NATS is back.
 *
 * With a NATS cluster (several servers in TRANSPORTER) the client moves to another server
 * within milliseconds, and the other nodes are still there: the node keeps its registry and
 * holds what it sends meanwhile — answers to calls it is serving, calls, events, heartbeats —
 * and sends it the moment the client is on the new server. Only if the move takes longer
 * than CLUSTER_FAILOVER_GRACE_MS is it an outage as above.
 *
 * When a server dies, every node on it moves at once, and NATS drops a message for which
 * the server has no subscriber yet: a call sent to a peer that is still moving is lost and
 * waits out its whole timeout. So after a move, what is addressed to one peer (calls,
 * answers, targeted events) waits until that peer has been heard from on the new server
 * (the move asks every peer to announce itself; a peer that is moving announces itself when
 * it is back), at most CLUSTER_FAILOVER_GRACE_MS; broadcasts go out at once.
 */
export class WatchfulNatsTransporter extends Transporters.NATS {
  private failoverTimer: NodeJS.Timeout | undefined;
  private outage = false;
  /** Packets sent while the client moves between servers of the cluster; undefined otherwise. */
  private held: HeldPacket[] | undefined;
  /** After a move: packets for each peer not yet heard from on the new server. */
  private awaitingPeers = new Map<string, HeldPacket[]>();
  private awaitingTimer: NodeJS.Timeout | undefined;

  override async connect(): Promise<void> {
    const result = await super.connect();
    this.watch();
    return result;
  }

  private watch(): void {
    const client = this.client;
    if (!client) return;
    void (async () => {
      for await (const status of client.status()) {
        if (status.type === "disconnect") this.disconnected();
        else if (status.type === "reconnect") await this.regained();
      }
    })().catch(() => undefined);
  }

  private get transitOf(): Transit | undefined {
    return this.broker.transit;
  }

  /** Whether TRANSPORTER named several servers (moleculer splits the URL list into `servers`). */
  private get clustered(): boolean {
    const servers = this.opts.servers;
    return Array.isArray(servers) && servers.length > 1;
  }

  // NATS publishes topic and data only (transporters/nats.js ignores the meta); the packet in it
  // names the peer a packet is for.
  override send(topic: string, data: Buffer, meta?: { packet?: Packet }): Promise<void> {
    const target = meta?.packet?.target;
    const waiting = this.awaitingPeers.get(target ?? "");
    const queue = this.held ?? waiting;
    if (!queue) return super.send(topic, data);
    if (queue.length >= HELD_PACKETS_MAX) {
      return Promise.reject(new Errors.BrokerDisconnectedError("NATS server lost"));
    }
    return new Promise<void>(resolve => queue.push({ topic, data, target, sent: resolve }));
  }

  /** Every packet from a peer shows it is on our cluster again: what waited for it goes out. */
  override deserialize(type: string, buf: Buffer): Packet {
    const packet = super.deserialize(type, buf);
    const sender = packet?.payload?.sender;
    if (sender && this.awaitingPeers.size > 0) this.releasePeer(sender);
    return packet;
  }

  private releasePeer(nodeID: string, send = true): void {
    const waiting = this.awaitingPeers.get(nodeID);
    if (!waiting) return;
    this.awaitingPeers.delete(nodeID);
    for (const packet of waiting) {
      if (send) void super.send(packet.topic, packet.data);
      packet.sent();
    }
    if (this.awaitingPeers.size === 0) clearTimeout(this.awaitingTimer);
  }

  /** Sent when the wait is over (a peer that stays silent may be gone), dropped in an outage. */
  private releaseAllPeers(send: boolean): void {
    clearTimeout(this.awaitingTimer);
    for (const nodeID of [...this.awaitingPeers.keys()]) this.releasePeer(nodeID, send);
  }

  /** After a move: the peers known now are held back until each one is heard from again. */
  private awaitPeers(): void {
    for (const node of this.broker.registry.nodes.toArray()) {
      if (!node.local && node.available && !this.awaitingPeers.has(node.id))
        this.awaitingPeers.set(node.id, []);
    }
    clearTimeout(this.awaitingTimer);
    this.awaitingTimer = setTimeout(() => this.releaseAllPeers(true), CLUSTER_FAILOVER_GRACE_MS);
  }

  private disconnected(): void {
    if (!this.connected || this.held) return;
    this.releasePendingRequests();
    if (!this.clustered) {
      this.lost();
      return;
    }
    this.logger.warn("NATS server lost; moving to another server of the cluster");
    this.held = [];
    clearTimeout(this.failoverTimer);
    this.failoverTimer = setTimeout(() => this.lost(), CLUSTER_FAILOVER_GRACE_MS);
  }

  /**
   * What was held during a move: on the new server, broadcasts are sent now and what is
   * addressed to a peer waits for that peer (awaitPeers); when the move became an outage,
   * all of it is given up.
   */
  private releaseHeld(send: boolean): void {
    const held = this.held ?? [];
    this.held = undefined;
    if (send) this.awaitPeers();
    else this.releaseAllPeers(false);
    for (const packet of held) {
      const waiting = send ? this.awaitingPeers.get(packet.target ?? "") : undefined;
      if (waiting) waiting.push(packet);
      else {
        if (send) void super.send(packet.topic, packet.data);
        packet.sent();
      }
    }
  }

  /** Their answers cannot arrive while we are cut off: release the callers now. */
  private releasePendingRequests(): void {
    const transit = this.transitOf;
    if (!transit) return;
    const nodes = new Set([...transit.pendingRequests.values()].map(req => req.nodeID));
    for (const nodeID of nodes) transit.removePendingRequestByNodeID(nodeID);
  }

  private lost(): void {
    this.failoverTimer = undefined;
    this.releaseHeld(false);
    this.connected = false;
    this.outage = true;
    this.logger.warn("NATS connection lost; calls fail fast until it is back");
    const transit = this.transitOf;
    if (!transit) return;
    transit.connected = false;
    // Forget the other nodes: none is reachable now, and after the outage each one is
    // known again only once it has answered our discovery or announced itself — i.e.
    // once it is back on NATS too. Otherwise a call could go to a node that has not
    // reconnected yet and be lost there, waiting out its whole timeout.
    for (const node of this.broker.registry.nodes.toArray()) {
      if (!node.local && node.available) transit.discoverer.remoteNodeDisconnected(node.id, true);
    }
    this.broker.broadcastLocal("$transporter.disconnected", { graceFul: false });
  }

  private async regained(): Promise<void> {
    if (this.held) {
      clearTimeout(this.failoverTimer);
      this.failoverTimer = undefined;
      this.logger.warn("NATS connection moved to another server of the cluster");
      this.releaseHeld(true);
      // Tell the others we are here again (a node that gave up on our heartbeats forgets us).
      const transit = this.transitOf;
      await transit?.discoverer.sendLocalNodeInfo();
      await transit?.discoverer.discoverAllNodes();
      return;
    }
    if (!this.outage) return;
    this.outage = false;
    this.logger.warn("NATS connection restored; discovering the other nodes");
    await this.onConnected(true);
  }
}
