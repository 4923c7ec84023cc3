import ipaddr from "ipaddr.js";

type Range = [ipaddr.IPv4 | ipaddr.IPv6, number];

/** What one address string says: its canonical form (undefined: not an IP) and whether a proxy of ours. */
interface AddressFacts {
  canonical: string | undefined;
  trusted: boolean;
}

/** Addresses remembered: peers and forwarded hops repeat (our proxies, busy clients). */
const MAX_REMEMBERED = 10_000;
/** The longest text form of an IPv6 address; longer strings (a client's garbage) are not kept. */
const MAX_ADDRESS_LENGTH = 45;

/**
 * Who the client is, as far as the gateway can know: the TCP peer, unless that peer is
 * one of our own proxies (TRUSTED_PROXIES, IPs or CIDR ranges) — then the right-most
 * address of X-Forwarded-For that is not a trusted proxy. A client that writes its own
 * X-Forwarded-For only ever adds entries to the left of what our proxy appends, so it
 * can neither choose its address nor reset a per-IP counter by rotating the header.
 */
export class ClientIpResolver {
  private readonly ranges: Range[];
  /** Every request parsed its peer up to four times; the answer depends on the string alone. */
  private readonly known = new Map<string, AddressFacts>();

  constructor(trustedProxies: string[]) {
    this.ranges = trustedProxies.map(entry => {
      const cidr = entry.includes("/")
        ? entry
        : `${entry}/${ipaddr.parse(entry).kind() === "ipv4" ? 32 : 128}`;
      const [address, bits] = ipaddr.parseCIDR(cidr);
      return [
        normalise(address),
        address.kind() === "ipv6" && normalise(address).kind() === "ipv4" ? bits - 96 : bits,
      ];
    });
  }

  isTrusted(ip: string): boolean {
    if (!ipaddr.isValid(ip)) return false;
    const address = normalise(ipaddr.parse(ip));
    return this.ranges.some(
      ([range, bits]) => range.kind() === address.kind() && address.match(range, bits),
    );
  }

  private factsOf(ip: string): AddressFacts {
    let facts = this.known.get(ip);
    if (!facts) {
      const form = canonical(ip);
      facts = { canonical: form, trusted: form !== undefined && this.isTrusted(form) };
      if (ip.length > MAX_ADDRESS_LENGTH) return facts;
      if (this.known.size >= MAX_REMEMBERED) this.known.clear();
      this.known.set(ip, facts);
    }
    return facts;
  }

  resolve(peer: string | undefined, forwardedFor: string | string[] | undefined): string {
    const peerFacts = peer ? this.factsOf(peer) : undefined;
    const direct = peerFacts?.canonical ?? "unknown";
    if (!peerFacts?.canonical || !peerFacts.trusted || !forwardedFor) return direct;
    const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(",") : forwardedFor)
      .split(",")
      .map(hop => hop.trim())
      .filter(hop => hop !== "");
    let client = direct;
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = this.factsOf(hops[i]);
      // Garbage in the chain ends what we can believe: keep the last address we trusted to tell us.
      if (!hop.canonical) return client;
      client = hop.canonical;
      if (!hop.trusted) return hop.canonical;
    }
    return client;
  }
}

function normalise(address: ipaddr.IPv4 | ipaddr.IPv6): ipaddr.IPv4 | ipaddr.IPv6 {
  if (address.kind() === "ipv6" && (address as ipaddr.IPv6).isIPv4MappedAddress()) {
    return (address as ipaddr.IPv6).toIPv4Address();
  }
  return address;
}

function canonical(ip: string | undefined): string | undefined {
  if (!ip || !ipaddr.isValid(ip)) return undefined;
  return normalise(ipaddr.parse(ip)).toString();
}
