/**
 * The outbound allow-list: the one check every connection tsstore dials on a user's behalf goes
 * through (pull connections, push targets, webhooks, broker URLs). It stops a store-key holder from
 * making the server reach what only the server can reach: its own loopback, the private network,
 * link-local addresses (cloud metadata at 169.254.169.254), and the like.
 *
 * Rules (config `outbound.allow`, one string each):
 * - a URL prefix `wss://feeds.example.com/v1/` (has `://`): same scheme, host and port, and the
 *   path starts with the prefix's path at a `/` boundary; allowed whatever the host resolves to;
 * - a host name `historian.lan`, or `*.example.com` for every name below example.com (not the
 *   name itself): allowed whatever it resolves to;
 * - an address or CIDR `127.0.0.1`, `10.0.0.0/8`, `::1`, `fd00::/8`: the resolved addresses
 *   inside it are allowed.
 *
 * Any other URL is allowed only when every address its host resolves to is a public unicast
 * address and `outbound.allow_public` is true (the default); with `allow_public: false` only the
 * rules allow. Addresses are checked after DNS resolution, and `lookupFor` pins the connection to
 * the addresses that were checked (a name cannot resolve to a public address for the check and
 * to a private one for the connect). IPv4 inside IPv6 (`::ffff:127.0.0.1`, NAT64 `64:ff9b::/96`,
 * 6to4 `2002::/16`) is judged by the IPv4 address it carries.
 */
import dns from 'node:dns';
import net from 'node:net';
import { TssError } from '../errors.js';

/** The config block (`outbound:`). */
export interface OutboundOptions {
  /** URL prefixes, host names (`*.` for subdomains), addresses and CIDRs that are allowed. */
  readonly allow?: readonly string[];
  /** Allow every URL whose host resolves only to public unicast addresses (default true). */
  readonly allow_public?: boolean;
}

/** What `check` found: the addresses the host resolved to (empty when a rule matched by name or URL). */
export interface OutboundDecision {
  readonly url: URL;
  /** The rule that allowed it (`public` when allow_public did). */
  readonly allowedBy: string;
  readonly addresses: readonly string[];
}

/** Resolves a host name to every address (for tests: a fake DNS). Default: `dns.lookup(all)`. */
export type OutboundResolver = (hostname: string) => Promise<readonly string[]>;

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | dns.LookupAddress[], family?: number) => void;
/** The `lookup` option of net.connect / http.request / ws. */
export type OutboundLookup = (hostname: string, options: dns.LookupOptions, callback: LookupCallback) => void;

interface Cidr {
  readonly bytes: Uint8Array;
  readonly prefix: number;
  readonly text: string;
}
interface Special {
  readonly cidr: Cidr;
  readonly what: string;
}

/** Parses an IPv4 or IPv6 address to its bytes (4 or 16), or undefined. */
function ipBytes(address: string): Uint8Array | undefined {
  const kind = net.isIP(address);
  if (kind === 4) return Uint8Array.from(address.split('.').map(Number));
  if (kind !== 6) return undefined;
  let text = address.toLowerCase();
  const zone = text.indexOf('%');
  if (zone >= 0) text = text.slice(0, zone);
  let tail: number[] = [];
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    tail = dotted[1].split('.').map(Number);
    text = text.slice(0, -dotted[1].length) + '0:0';
  }
  const [head, rest] = text.includes('::') ? text.split('::') : [text, undefined];
  const groups = (s: string | undefined): number[] =>
    s
      ? s
          .split(':')
          .filter((g) => g !== '')
          .map((g) => parseInt(g, 16))
      : [];
  const h = groups(head);
  const r = groups(rest);
  const all = rest === undefined ? h : [...h, ...new Array<number>(8 - h.length - r.length).fill(0), ...r];
  const out = new Uint8Array(16);
  all.forEach((g, i) => {
    out[i * 2] = g >> 8;
    out[i * 2 + 1] = g & 0xff;
  });
  if (dotted) out.set(tail, 12);
  return out;
}

function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf('/');
  const addr = (slash >= 0 ? text.slice(0, slash) : text).replace(/^\[(.*)\]$/, '$1');
  const bytes = ipBytes(addr);
  if (!bytes) return undefined;
  const bits = bytes.length * 8;
  let prefix = bits;
  if (slash >= 0) {
    const p = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p) || Number(p) > bits) return undefined;
    prefix = Number(p);
  }
  return { bytes, prefix, text };
}

function inCidr(bytes: Uint8Array, cidr: Cidr): boolean {
  if (bytes.length !== cidr.bytes.length) return false;
  let bits = cidr.prefix;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((bytes[i] & mask) !== (cidr.bytes[i] & mask)) return false;
  }
  return true;
}

const special = (list: [string, string][]): Special[] => list.map(([c, what]) => ({ cidr: parseCidr(c)!, what }));

/** Everything that is not a public unicast address, with what it is (for the error message). */
const SPECIAL_V4 = special([
  ['0.0.0.0/8', 'a "this network" address (0.0.0.0 reaches the local host)'],
  ['10.0.0.0/8', 'a private address'],
  ['100.64.0.0/10', 'a shared (carrier-grade NAT) address'],
  ['127.0.0.0/8', 'a loopback address'],
  ['169.254.0.0/16', 'a link-local address (cloud metadata services live here)'],
  ['172.16.0.0/12', 'a private address'],
  ['192.0.0.0/24', 'an IETF protocol address'],
  ['192.0.2.0/24', 'a documentation address'],
  ['192.88.99.0/24', 'a 6to4 relay address'],
  ['192.168.0.0/16', 'a private address'],
  ['198.18.0.0/15', 'a benchmarking address'],
  ['198.51.100.0/24', 'a documentation address'],
  ['203.0.113.0/24', 'a documentation address'],
  ['224.0.0.0/4', 'a multicast address'],
  ['240.0.0.0/4', 'a reserved or broadcast address'],
]);
const SPECIAL_V6 = special([
  ['::/128', 'the unspecified address (it reaches the local host)'],
  ['::1/128', 'a loopback address'],
  ['::/96', 'an IPv4-compatible address (deprecated)'],
  ['64:ff9b:1::/48', 'a local-use NAT64 address'],
  ['100::/64', 'a discard address'],
  ['2001::/23', 'an IETF protocol address'],
  ['2001:db8::/32', 'a documentation address'],
  ['fc00::/7', 'a unique local (private) address'],
  ['fe80::/10', 'a link-local address'],
  ['fec0::/10', 'a site-local address'],
  ['ff00::/8', 'a multicast address'],
]);
const MAPPED = parseCidr('::ffff:0:0/96')!;
const NAT64 = parseCidr('64:ff9b::/96')!;
const SIX_TO_FOUR = parseCidr('2002::/16')!;

function v4Text(b: Uint8Array): string {
  return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
}

/** IPv4 carried inside an IPv6 address that a connection to it reaches (mapped, NAT64, 6to4). */
function embeddedV4(b: Uint8Array): { v4: Uint8Array; how: string } | undefined {
  if (b.length !== 16) return undefined;
  if (inCidr(b, MAPPED)) return { v4: b.slice(12), how: 'IPv4-mapped' };
  if (inCidr(b, NAT64)) return { v4: b.slice(12), how: 'NAT64' };
  if (inCidr(b, SIX_TO_FOUR)) return { v4: b.slice(2, 6), how: '6to4' };
  return undefined;
}

/** Why an address is not public, or undefined when it is a public unicast address. */
export function nonPublicReason(address: string): string | undefined {
  const b = ipBytes(address.replace(/^\[(.*)\]$/, '$1'));
  if (!b) return 'not an IP address';
  const inner = embeddedV4(b);
  if (inner) {
    const r = SPECIAL_V4.find((s) => inCidr(inner.v4, s.cidr));
    return r && `${inner.how} ${v4Text(inner.v4)}, ${r.what}`;
  }
  return (b.length === 4 ? SPECIAL_V4 : SPECIAL_V6).find((s) => inCidr(b, s.cidr))?.what;
}

interface PrefixRule {
  readonly text: string;
  readonly protocol: string;
  readonly host: string;
  readonly port: string;
  readonly path: string;
}
interface HostRule {
  readonly text: string;
  readonly name: string;
  readonly wildcard: boolean;
}

const normalHost = (h: string): string =>
  h
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1')
    .replace(/\.$/, '');

function parsePrefix(text: string): PrefixRule {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new Error(`"${text}" is not a valid URL prefix`);
  }
  if (u.username || u.password) throw new Error(`"${text}": a URL prefix must not carry credentials`);
  if (u.search || u.hash) throw new Error(`"${text}": a URL prefix must not have a query or fragment`);
  if (!u.hostname) throw new Error(`"${text}": a URL prefix needs a host`);
  return { text, protocol: u.protocol, host: normalHost(u.hostname), port: u.port, path: u.pathname };
}

function prefixMatches(rule: PrefixRule, u: URL): boolean {
  if (u.protocol !== rule.protocol || normalHost(u.hostname) !== rule.host || u.port !== rule.port) return false;
  if (rule.path === '/' || u.pathname === rule.path) return true;
  if (!u.pathname.startsWith(rule.path)) return false;
  return rule.path.endsWith('/') || u.pathname[rule.path.length] === '/';
}

const HOST_NAME = /^(\*\.)?([a-z0-9_]([a-z0-9_-]{0,62}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,62}[a-z0-9_])?)*$/;

/** Defaults of `outbound`: no rule, public addresses allowed. */
export const DEFAULT_OUTBOUND: Required<OutboundOptions> = { allow: [], allow_public: true };

/**
 * An outbound policy built from the `outbound` config block. Plugins get the server's through
 * `ctx.outbound` (plugin API 1.2.0); `OutboundPolicy.from` is for hosts and tests.
 */
export class OutboundPolicy {
  private readonly prefixes: PrefixRule[] = [];
  private readonly hosts: HostRule[] = [];
  private readonly cidrs: Cidr[] = [];
  readonly allowPublic: boolean;

  private constructor(
    options: OutboundOptions,
    private readonly resolver: OutboundResolver,
  ) {
    this.allowPublic = options.allow_public ?? DEFAULT_OUTBOUND.allow_public;
    for (const raw of options.allow ?? []) {
      const text = raw.trim();
      if (text.includes('://')) {
        this.prefixes.push(parsePrefix(text));
        continue;
      }
      const cidr = parseCidr(text);
      if (cidr) {
        this.cidrs.push(cidr);
        continue;
      }
      const name = normalHost(text);
      if (text.includes('/') || !HOST_NAME.test(name)) {
        throw new Error(`"${raw}" is not a URL prefix (scheme://host/path), a host name (name or *.domain), an address or a CIDR (10.0.0.0/8)`);
      }
      const wildcard = name.startsWith('*.');
      this.hosts.push({ text, name: wildcard ? name.slice(2) : name, wildcard });
    }
  }

  /** Builds a policy; throws an Error naming the first entry that is none of the rule forms. */
  static from(options: OutboundOptions = {}, resolver: OutboundResolver = systemResolver): OutboundPolicy {
    return new OutboundPolicy(options, resolver);
  }

  /** The rules as configured, for logs and `config print`. */
  describe(): { allow: string[]; allow_public: boolean } {
    return { allow: [...this.prefixes.map((p) => p.text), ...this.hosts.map((h) => h.text), ...this.cidrs.map((c) => c.text)], allow_public: this.allowPublic };
  }

  /**
   * Checks a URL before dialling it, resolving its host. Resolves with the decision, or rejects
   * with TssError `TSS_ERR_OUTBOUND_FORBIDDEN` (403) whose message names the URL (without
   * credentials or query), the address and why, and how to allow it. A host that does not resolve
   * is not refused here (the connect fails, and `lookupFor` checks again when it resolves).
   */
  async check(url: string | URL): Promise<OutboundDecision> {
    const u = typeof url === 'string' ? new URL(url) : url;
    const byName = this.ruleFor(u);
    if (byName) return { url: u, allowedBy: byName, addresses: [] };
    const host = normalHost(u.hostname);
    let addresses: readonly string[];
    if (net.isIP(host)) {
      addresses = [host];
    } else {
      try {
        addresses = await this.resolver(host);
      } catch {
        return { url: u, allowedBy: 'unresolved', addresses: [] };
      }
    }
    return { url: u, allowedBy: this.judge(u, addresses), addresses };
  }

  /**
   * A `lookup` for net.connect / http.request / the ws client that resolves the host of `url`,
   * applies the same rules as `check` to every address and hands only checked addresses to the
   * connect; a forbidden address fails the connect with the TssError. Pass it with every dial
   * (an IP-literal host skips lookups: `check` it first).
   */
  lookupFor(url: string | URL): OutboundLookup {
    const u = typeof url === 'string' ? new URL(url) : url;
    const byName = this.ruleFor(u) !== undefined;
    return (hostname, options, callback) => {
      this.resolver(hostname)
        .then((addresses) => {
          if (!byName) this.judge(u, addresses);
          const list = addresses.map((address) => ({ address, family: net.isIP(address) })).filter((a) => !options.family || options.family === a.family);
          if (!list.length) {
            const err: NodeJS.ErrnoException = new Error(`getaddrinfo ENOTFOUND ${hostname}`);
            err.code = 'ENOTFOUND';
            throw err;
          }
          if (options.all) callback(null, list);
          else callback(null, list[0].address, list[0].family);
        })
        .catch((err: NodeJS.ErrnoException) => callback(err, options.all ? [] : ''));
    };
  }

  /** The URL-prefix or host-name rule that allows `u` regardless of addresses. */
  private ruleFor(u: URL): string | undefined {
    const prefix = this.prefixes.find((p) => prefixMatches(p, u));
    if (prefix) return prefix.text;
    const host = normalHost(u.hostname);
    return this.hosts.find((h) => (h.wildcard ? host.endsWith(`.${h.name}`) : host === h.name))?.text;
  }

  /** Every address must be allowed; returns what allowed the last one, throws for the first refused. */
  private judge(u: URL, addresses: readonly string[]): string {
    let by = 'public';
    for (const address of addresses) {
      const b = ipBytes(address);
      const plain = b && (b.length === 16 && inCidr(b, MAPPED) ? b.slice(12) : b);
      const cidr = plain && this.cidrs.find((c) => inCidr(plain, c));
      if (cidr) {
        by = cidr.text;
        continue;
      }
      const reason = nonPublicReason(address);
      if (this.allowPublic && !reason) continue;
      throw forbidden(u, address, reason ?? 'not in outbound.allow (outbound.allow_public is false)');
    }
    return by;
  }
}

const systemResolver: OutboundResolver = async (hostname) => (await dns.promises.lookup(hostname, { all: true, verbatim: true })).map((a) => a.address);

/** The URL as it may be shown: scheme, host, port and path (no credentials, query or fragment). */
export function shownUrl(u: URL): string {
  return `${u.protocol}//${u.host}${u.pathname}`;
}

function forbidden(u: URL, address: string, reason: string): TssError {
  const host = normalHost(u.hostname);
  const via = host === address ? address : `${host} resolves to ${address}`;
  return new TssError(
    'TSS_ERR_OUTBOUND_FORBIDDEN',
    `outbound connection to ${shownUrl(u)} is not allowed: ${via}, ${reason}; an operator can allow it in the config's outbound.allow (a URL prefix, host name, address or CIDR)`,
  );
}
