// The xTR's kernel fast path (tc/tcx programs), loaded by KernelFastPath.cs. Compiled by scripts/gen-fastpath.sh into
// LispFastPathImage.g.cs (clang -target bpf); regenerate after any change here (a test compares this file's hash).
//
// lisp_itr (egress of the EID device, a TUN): a packet whose destination has a usable map-cache entry that the agent
// mirrored into itr4/itr6 is encapsulated here (outer IPv4 + UDP 4341 + LISP header, UDP-tunnel GSO kept for
// super-packets) and sent toward its RLOC with bpf_redirect_neigh. Anything else goes on to the TUN and the user-space ITR.
// A route notes its use in `used` at most once a second, for the agent's map-cache (last use, LRU order, ITRs in use).
//
// lisp_etr (ingress of each RLOC interface): a LISP data packet to a local RLOC, of our instance ID, for an EID that is
// here, loses its outer headers and enters the stack on the EID device. A super-packet is instead turned into a VXLAN
// packet to the agent's decapsulation device (in place: the LISP header becomes a VXLAN header and an inner Ethernet
// header is added) and marked; the kernel's VXLAN receive path then strips it, clearing the GSO and encapsulation state
// that a bpf_skb_adjust_room decapsulation leaves stale on kernels without BPF_F_ADJ_ROOM_DECAP_L4_UDP (added to bpf-next
// in 2026; stale, it makes a bridge cut and checksum the packet in software). Data for an EID that moved away is dropped
// and reported (the agent sends the SMR); locator-status bits are reported. Anything else goes on to the UDP 4341 socket
// and the user-space ETR.
//
// lisp_vxlan (ingress of the decapsulation device): a packet lisp_etr marked enters the stack on the EID device, as the
// user-space ETR's packets do (so reverse-path filters and firewall rules see one interface either way); VXLAN from the
// network is dropped.
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;

#define SEC(name) __attribute__((section(name), used))
#define INLINE static inline __attribute__((always_inline))
#define be16(x) __builtin_bswap16(x)
#define be32(x) __builtin_bswap32(x)

static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;
static long (*bpf_map_update_elem)(void *map, const void *key, const void *value, u64 flags) = (void *)2;
static u64 (*bpf_ktime_get_ns)(void) = (void *)5;
static u64 (*bpf_ktime_get_coarse_ns)(void) = (void *)160;
static u32 (*bpf_get_prandom_u32)(void) = (void *)7;
static long (*bpf_skb_store_bytes)(void *skb, u32 offset, const void *from, u32 len, u64 flags) = (void *)9;
static long (*bpf_l3_csum_replace)(void *skb, u32 offset, u64 from, u64 to, u64 size) = (void *)10;
static u32 (*bpf_get_hash_recalc)(void *skb) = (void *)34;
static long (*bpf_skb_change_head)(void *skb, u32 len, u64 flags) = (void *)43;
static long (*bpf_redirect)(u32 ifindex, u64 flags) = (void *)23;
static long (*bpf_skb_adjust_room)(void *skb, int len_diff, u32 mode, u64 flags) = (void *)50;
static long (*bpf_fib_lookup)(void *ctx, struct bpf_fib_lookup *params, int plen, u32 flags) = (void *)69;
static long (*bpf_redirect_neigh)(u32 ifindex, void *params, int plen, u64 flags) = (void *)152;

// The maps are created by the agent; each symbol stands for one (the loader writes its descriptor where it is used).
char itr4[1] SEC(".maps.itr4");
char itr6[1] SEC(".maps.itr6");
char etr4[1] SEC(".maps.etr4");
char etr6[1] SEC(".maps.etr6");
char config[1] SEC(".maps.config");
char counters[1] SEC(".maps.counters");
char reports[1] SEC(".maps.reports");
char used[1] SEC(".maps.used");

#define BUCKETS 16
#define MAX_RLOCS 4
#define DATA_PORT 4341
#define MARK 0x4c495350 /* "LISP" */
// bpf_skb_adjust_room's flags that set skb->protocol to the inner family when it takes the outer headers off (Linux 6.3).
#define ADJ_ROOM_DECAP_L3_IPV4 (1ULL << 7)
#define ADJ_ROOM_DECAP_L3_IPV6 (1ULL << 8)
// Not ours: the next tcx program on the interface decides, or the stack (the user-space data plane) when there is none.
#define NEXT TC_ACT_UNSPEC

// itr4/itr6 values: one remote EID-prefix's encapsulation. Must match FastPathLayout in KernelFastPath.cs.
struct route {
	u32 iid_lsb;       // instance ID << 8 | locator-status bits, host order
	u32 src;           // outer source (a local IPv4 RLOC), network order
	u32 dst[BUCKETS];  // outer destination per flow-hash bucket (weights spread over the buckets), network order
	u64 used;          // when this program last noted the route used (bpf_ktime_get_coarse_ns); the agent writes 0
};

struct lpm4 { u32 prefixlen; u32 addr; };
struct lpm6 { u32 prefixlen; u32 addr[4]; };

// config[0]: what both programs need of the agent.
struct config {
	u32 iid;               // the site's instance ID
	u32 rlocs[MAX_RLOCS];  // the local IPv4 RLOCs the ETR accepts (0 = unused), network order
	u32 eid_ifindex;       // the EID device (the TUN), where decapsulated packets enter the stack
	u16 vxlan_port;        // the decapsulation device's UDP port, network order
	u8 vxlan_mac[6];       // its MAC address
	u32 itr_flags;         // ITR_SUPER_PACKETS_ONLY
};

// used key: a destination whose route carried data (the value is the time); the agent reads and deletes them, and marks
// the map-cache entry used, as the user-space ITR does, so that its last use and LRU order count kernel-carried traffic.
struct used_key {
	u32 family;      // 4 or 6
	u32 addr[4];     // IPv4 in addr[0]
};

// The ITR program takes super-packets only; single packets go to the user-space ITR, which sends a burst of one flow as
// one UDP GSO send (cheaper than the kernel's per-packet path where interrupts and wake-ups cost much, as in some VMs).
#define ITR_SUPER_PACKETS_ONLY 1

// etr4/etr6 values.
#define EID_LOCAL 1
#define EID_AWAY 2
#define EID_UNLISTED 3

// counters (per-CPU u64), indexes as FastPathCounter in KernelFastPath.cs.
#define C_ITR_PACKETS 0
#define C_ITR_SUPER 1
#define C_ETR_PACKETS 2
#define C_ETR_SUPER 3
#define C_ETR_AWAY 4
#define C_VXLAN_FOREIGN 5
#define C_FAILED 6

// reports key: what user space must act on (it reads and deletes them); the value is the time it was last reported.
#define R_SOLICIT 1
#define R_LSB 2
struct report {
	u8 kind;
	u8 eid_family;   // 4 or 6
	u16 pad;
	u32 bits;        // R_LSB: the locator-status bits
	u32 itr;         // the ITR's RLOC (outer source), network order
	u32 eid[4];      // R_SOLICIT: the inner destination; R_LSB: the inner source (IPv4 in eid[0])
};

INLINE void count(u32 index, u64 n)
{
	u64 *c = bpf_map_lookup_elem(&counters, &index);
	if (c) *c += n;
}

// A packet changed half-way (a helper refused after the first change) cannot go on: dropped and counted.
INLINE int failed(void)
{
	count(C_FAILED, 1);
	return TC_ACT_SHOT;
}

// At most one report per key and second: the rest of a flow's packets cost one lookup.
INLINE void report(struct report *r)
{
	u64 now = bpf_ktime_get_ns();
	u64 *last = bpf_map_lookup_elem(&reports, r);
	if (last && now - *last < 1000000000ULL) return;
	bpf_map_update_elem(&reports, r, &now, BPF_ANY);
}

struct outer4 {
	struct iphdr ip;
	struct udphdr udp;
	u32 lisp[2];
} __attribute__((packed));

SEC("tc/itr") int lisp_itr(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct route *route;
	struct used_key dest = {};
	u8 tos, ttl;
	if (skb->protocol == be16(ETH_P_IP)) {
		struct iphdr *ip = data;
		if ((void *)(ip + 1) > end) return NEXT;
		// Multicast, broadcast, 0/8 and 169.254/16 are no EIDs: the user-space ITR drops and counts them.
		u32 top = be32(ip->daddr) >> 24;
		if (top == 0 || top >= 224 || (be32(ip->daddr) >> 16) == 0xa9fe) return NEXT;
		struct lpm4 key = { 32, ip->daddr };
		route = bpf_map_lookup_elem(&itr4, &key);
		dest.family = 4;
		dest.addr[0] = ip->daddr;
		tos = ip->tos;
		ttl = ip->ttl;
	} else if (skb->protocol == be16(ETH_P_IPV6)) {
		struct ipv6hdr *ip = data;
		if ((void *)(ip + 1) > end) return NEXT;
		// Multicast (ff00::/8) and link-local (fe80::/10) are no EIDs either.
		u8 first = ip->daddr.in6_u.u6_addr8[0];
		if (first == 0xff || (first == 0xfe && (ip->daddr.in6_u.u6_addr8[1] & 0xc0) == 0x80)) return NEXT;
		struct lpm6 key = { 128 };
		__builtin_memcpy(key.addr, &ip->daddr, 16);
		route = bpf_map_lookup_elem(&itr6, &key);
		dest.family = 6;
		__builtin_memcpy(dest.addr, key.addr, 16);
		tos = (ip->priority << 4) | (ip->flow_lbl[0] >> 4);
		ttl = ip->hop_limit;
	} else {
		return NEXT;
	}
	if (!route || ttl == 0) return NEXT;
	u32 zero = 0;
	struct config *cfg = bpf_map_lookup_elem(&config, &zero);
	if (!cfg || ((cfg->itr_flags & ITR_SUPER_PACKETS_ONLY) && !skb->gso_size)) return NEXT;

	u32 hash = bpf_get_hash_recalc(skb);
	u32 dst = route->dst[hash & (BUCKETS - 1)];
	if (!dst) return NEXT;
	u32 len = skb->len;
	// The outer IPv4 header's 16-bit length must hold it (a BIG TCP super-packet does not fit).
	if (len + sizeof(struct outer4) > 0xffff) return NEXT;
	// The route toward the RLOC and its MTU: a packet that would not fit it whole goes to the user-space ITR, which answers
	// with the ICMP error. A super-packet's segments were checked against the TUN's MTU when the kernel forwarded it there
	// (a length of 0 skips the check).
	struct bpf_fib_lookup fib = {};
	fib.family = 2; // AF_INET
	fib.l4_protocol = IPPROTO_UDP;
	fib.dport = be16(DATA_PORT);
	fib.tot_len = skb->gso_size ? 0 : len + sizeof(struct outer4);
	fib.ifindex = skb->ifindex;
	fib.ipv4_src = route->src;
	fib.ipv4_dst = dst;
	// A forwarding lookup: on a host that forwards nothing (BPF_FIB_LKUP_RET_FWD_DISABLED) the user-space ITR sends.
	long rc = bpf_fib_lookup(skb, &fib, sizeof fib, 0);
	if (rc != BPF_FIB_LKUP_RET_SUCCESS && rc != BPF_FIB_LKUP_RET_NO_NEIGH) return NEXT;

	struct outer4 h = {};
	h.ip.version = 4;
	h.ip.ihl = 5;
	h.ip.tos = tos;
	h.ip.tot_len = be16(len + sizeof h);
	h.ip.frag_off = be16(0x4000); // DF
	h.ip.ttl = ttl;
	h.ip.protocol = IPPROTO_UDP;
	h.ip.saddr = route->src;
	h.ip.daddr = dst;
	u32 sum = 0;
	u16 *w = (u16 *)&h;
#pragma clang loop unroll(full)
	for (int i = 0; i < 10; i++) sum += w[i];
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	h.ip.check = ~sum;
	h.udp.source = be16(49152 + ((hash ^ (hash >> 16)) & 0x3fff));
	h.udp.dest = be16(DATA_PORT);
	h.udp.len = be16(len + sizeof h - sizeof h.ip);
	// N (random nonce), L (locator-status bits), I (instance ID).
	h.lisp[0] = be32(0xc8000000 | (bpf_get_prandom_u32() & 0xffffff));
	h.lisp[1] = be32(route->iid_lsb);

	// bpf_redirect_neigh takes an Ethernet frame: a TUN's packet gets a placeholder header first.
	if (bpf_skb_change_head(skb, ETH_HLEN, 0)) return NEXT;
	if (bpf_skb_adjust_room(skb, sizeof h, BPF_ADJ_ROOM_MAC,
	                        BPF_F_ADJ_ROOM_ENCAP_L3_IPV4 | BPF_F_ADJ_ROOM_ENCAP_L4_UDP | BPF_F_ADJ_ROOM_ENCAP_L2(8)))
		return failed();
	if (bpf_skb_store_bytes(skb, ETH_HLEN, &h, sizeof h, 0)) return failed();
	count(C_ITR_PACKETS, 1);
	if (skb->gso_size) count(C_ITR_SUPER, 1);
	// One note per route and second (CPUs racing may write two): the rest of its packets cost a read of the coarse clock,
	// a memory load (its tick's resolution is plenty for a second).
	u64 now = bpf_ktime_get_coarse_ns();
	if (now - route->used >= 1000000000ULL) {
		route->used = now;
		bpf_map_update_elem(&used, &dest, &now, BPF_ANY);
	}
	return bpf_redirect_neigh(fib.ifindex, 0, 0, 0);
}

struct vxlan4 {
	struct udphdr udp;
	u32 vxlan[2];
	u8 dst[6];
	u8 src[6];
	u16 proto;
} __attribute__((packed));

// An outer source no remote xTR can have: unspecified, loopback, multicast or broadcast (ours is checked by the caller).
INLINE int bogus_source(u32 saddr)
{
	u32 top = be32(saddr) >> 24;
	return saddr == 0 || top == 127 || top >= 224;
}

SEC("tc/etr") int lisp_etr(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct outer4 *h = (void *)(eth + 1);
	u8 *inner = (void *)(h + 1);
	if ((void *)(inner + 20) > end || eth->h_proto != be16(ETH_P_IP)) return NEXT;
	if (h->ip.ihl != 5 || h->ip.protocol != IPPROTO_UDP || (h->ip.frag_off & be16(0x3fff)) || h->udp.dest != be16(DATA_PORT))
		return NEXT;
	u32 key = 0;
	struct config *cfg = bpf_map_lookup_elem(&config, &key);
	if (!cfg) return NEXT;
	int ours = 0, reflected = 0;
#pragma clang loop unroll(full)
	for (int i = 0; i < MAX_RLOCS; i++) {
		if (cfg->rlocs[i] && cfg->rlocs[i] == h->ip.daddr) ours = 1;
		if (cfg->rlocs[i] && cfg->rlocs[i] == h->ip.saddr) reflected = 1;
	}
	if (!ours || reflected || bogus_source(h->ip.saddr)) return NEXT;
	u32 flags = be32(h->lisp[0]) >> 24;
	// I set; N and V never together; the user-space ETR judges everything else.
	if (!(flags & 0x08) || (flags & 0x90) == 0x90) return NEXT;
	u32 word = be32(h->lisp[1]);
	if (word >> 8 != cfg->iid) return NEXT;

	struct report r = {};
	u8 *state;
	u16 proto;
	u32 inner_len;
	if (inner[0] >> 4 == 4) {
		struct iphdr *ip = (void *)inner;
		if (ip->ihl < 5) return NEXT;
		struct lpm4 k = { 32, ip->daddr };
		state = bpf_map_lookup_elem(&etr4, &k);
		inner_len = be16(ip->tot_len);
		r.eid_family = 4;
		r.eid[0] = ip->daddr;
		proto = be16(ETH_P_IP);
	} else if (inner[0] >> 4 == 6) {
		struct ipv6hdr *ip = (void *)inner;
		if ((void *)(ip + 1) > end) return NEXT;
		struct lpm6 k = { 128 };
		__builtin_memcpy(k.addr, &ip->daddr, 16);
		state = bpf_map_lookup_elem(&etr6, &k);
		inner_len = be16(ip->payload_len) + sizeof(struct ipv6hdr);
		r.eid_family = 6;
		__builtin_memcpy(r.eid, &ip->daddr, 16);
		proto = be16(ETH_P_IPV6);
	} else {
		return NEXT;
	}
	if (!state) return NEXT;
	// The inner packet fills the rest (a frame may carry padding after it). A super-packet must be one inner packet, as
	// an ITR's UDP-tunnel segmentation makes it; a run of whole datagrams (a UDP GSO send) is left to the user-space ETR.
	u32 rest = skb->len - ETH_HLEN - sizeof(struct outer4);
	if (inner_len < 20 || inner_len > rest || (skb->gso_size && inner_len != rest)) return NEXT;
	r.itr = h->ip.saddr;
	if (*state == EID_AWAY || *state == EID_UNLISTED) {
		r.kind = R_SOLICIT;
		report(&r);
	}
	if (*state == EID_AWAY) {
		count(C_ETR_AWAY, 1);
		return TC_ACT_SHOT;
	}
	if (*state != EID_LOCAL && *state != EID_UNLISTED) return NEXT;
	if (flags & 0x40) {
		struct report l = {};
		l.kind = R_LSB;
		l.bits = word & 0xff;
		l.itr = h->ip.saddr;
		if (inner[0] >> 4 == 4) {
			l.eid_family = 4;
			__builtin_memcpy(l.eid, inner + 12, 4);
		} else {
			struct ipv6hdr *ip = (void *)inner;
			if ((void *)(ip + 1) > end) return NEXT;
			l.eid_family = 6;
			__builtin_memcpy(l.eid, &ip->saddr, 16);
		}
		report(&l);
	}

	// A single packet (no super-packet, so no GSO state to leave stale) loses its outer headers here and enters the stack on
	// the EID device at once: cheaper than the VXLAN receive path, which only a super-packet needs.
	if (!skb->gso_size) {
		u64 decap = proto == be16(ETH_P_IPV6) ? ADJ_ROOM_DECAP_L3_IPV6 : ADJ_ROOM_DECAP_L3_IPV4;
		if (bpf_skb_adjust_room(skb, -(int)sizeof(struct outer4), BPF_ADJ_ROOM_MAC, decap)) return NEXT;
		count(C_ETR_PACKETS, 1);
		return bpf_redirect(cfg->eid_ifindex, BPF_F_INGRESS);
	}

	// LISP (UDP 4341, 8-byte header, inner IP) becomes VXLAN (UDP to the device's port, 8-byte header, inner Ethernet):
	// 14 bytes more after the outer IP header, the UDP and VXLAN headers written where they now fall.
	u16 sport = h->udp.source, ulen = be16(h->udp.len), oldlen = h->ip.tot_len;
	u16 newlen = be16(be16(oldlen) + ETH_HLEN);
	struct vxlan4 v = {};
	v.udp.source = sport;
	v.udp.dest = cfg->vxlan_port;
	v.udp.len = be16(ulen + ETH_HLEN);
	v.vxlan[0] = be32(0x08000000);
	v.vxlan[1] = be32(cfg->iid << 8);
	__builtin_memcpy(v.dst, cfg->vxlan_mac, 6);
	v.src[0] = 0x02;
	v.proto = proto;
	if (bpf_skb_adjust_room(skb, ETH_HLEN, BPF_ADJ_ROOM_NET, BPF_F_ADJ_ROOM_FIXED_GSO)) return NEXT;
	if (bpf_skb_store_bytes(skb, ETH_HLEN + sizeof(struct iphdr), &v, sizeof v, 0)) return failed();
	if (bpf_l3_csum_replace(skb, ETH_HLEN + 10, oldlen, newlen, 2)) return failed();
	if (bpf_skb_store_bytes(skb, ETH_HLEN + 2, &newlen, 2, 0)) return failed();
	count(C_ETR_PACKETS, 1);
	if (skb->gso_size) count(C_ETR_SUPER, 1);
	skb->mark = MARK;
	return TC_ACT_OK;
}

SEC("tc/vxlan") int lisp_vxlan(struct __sk_buff *skb)
{
	if (skb->mark != MARK) {
		count(C_VXLAN_FOREIGN, 1);
		return TC_ACT_SHOT;
	}
	skb->mark = 0;
	u32 key = 0;
	struct config *cfg = bpf_map_lookup_elem(&config, &key);
	if (!cfg) return TC_ACT_SHOT;
	return bpf_redirect(cfg->eid_ifindex, BPF_F_INGRESS);
}

char _license[] SEC("license") = "Dual MIT/GPL";
