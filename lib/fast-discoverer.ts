import { Discoverers } from "moleculer";

/**
 * Moleculer's local discoverer checks for silent nodes only once per heartbeatTimeout,
 * so a crashed node stays in rotation for up to twice that. This one checks every
 * heartbeat interval: a node that stops beating is dropped heartbeatTimeout seconds
 * (plus at most one interval) after its last beat.
 */
export class FastCheckDiscoverer extends Discoverers.Local {
  /** Set by the base class (registry/discoverers/base.js); its d.ts leaves it out. */
  declare readonly opts: { heartbeatInterval: number };

  override startHeartbeatTimers(): void {
    super.startHeartbeatTimers();
    if (this.checkNodesTimer && this.opts.heartbeatInterval > 0) {
      clearInterval(this.checkNodesTimer);
      this.checkNodesTimer = setInterval(
        () => this.checkRemoteNodes(),
        this.opts.heartbeatInterval * 1000,
      );
      this.checkNodesTimer.unref();
    }
  }

  /**
   * An INFO packet is a sign of life too. Moleculer keeps the last heartbeat time of a node
   * that restarts under the same NODE_ID before its old instance timed out, so the new
   * instance would be dropped for the old one's silence until its own next heartbeat.
   */
  override processRemoteNodeInfo(nodeID: string, payload: Record<string, unknown>) {
    const node = super.processRemoteNodeInfo(nodeID, payload);
    if (node) node.lastHeartbeatTime = Math.round(process.uptime());
    return node;
  }
}
