// SPDX-License-Identifier: (MIT OR Apache-2.0) OR GPL-2.0-only
//
// relay-native's kernel fast path for ChannelData (RFC 8656 section 12), a TC classifier.
//
// The user-space core stays the authority: it answers every STUN/TURN request, and for each
// channel that may carry data it writes one route per direction into the two maps below, with
// the instant the route stops being valid (the earliest of the channel's, the permission's and
// the allocation's expiry, so also the credential's). This program only moves bytes for routes
// it finds and that are still valid; anything else (Send indications, STUN, TCP, IP options,
// IPv6 extension headers, fragments, padded ChannelData, routes that change the family,
// expired or unknown routes) passes through untouched to the relay's sockets, which handle it
// exactly as without the fast path. IPv4 and IPv6 have a pair of maps each.
//
//   client -> peer: [IP][UDP client->listener][ChannelData hdr][data]
//                becomes [IP][UDP relay->peer][data]
//   peer -> client: [IP][UDP peer->relay][data]
//                becomes [IP][UDP listener->client][ChannelData hdr][data]
//
// Only an skb that holds exactly one datagram is rewritten. A GSO or GRO skb (a peer sending
// with UDP_SEGMENT, UDP GRO forwarding, fraglist GRO) carries several datagrams behind one
// header; it passes to the relay's sockets, where the kernel splits it (or hands it over with
// its segment size) and user space frames every datagram.
//
// The headers stay where they are; the payload moves by 4 bytes and the tail is trimmed or
// grown, so the skb's checksum-offload offsets stay right. Checksums are updated
// incrementally (bpf_l3/l4_csum_replace, and bpf_csum_diff for IPv6's 16-byte addresses),
// which is correct whether the UDP checksum field holds a full checksum, a pseudo-header seed
// (CHECKSUM_PARTIAL) or, over IPv4, zero (none; IPv6 has no such thing, so its field is
// always updated).
//
// A rewritten packet whose new destination is local continues up this host's stack; one for
// another host leaves through the interface it came in on. Packets this program does not
// rewrite get TC_ACT_UNSPEC (TCX_NEXT): the next program on the interface, if any, sees them,
// so several relays can share one interface.

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

// Both key and value layouts are mirrored byte for byte in src/driver/offload/maps.rs.
// Addresses and ports are in network byte order, as on the wire.

struct c2p_key {
	__u32 client_ip;
	__u16 client_port;
	__u16 server_port;
	__u16 channel;
	__u16 pad;
};

struct c2p_val {
	__u32 relay_ip;
	__u32 peer_ip;
	__u16 relay_port;
	__u16 peer_port;
	__u32 flags; // ROUTE_LOCAL
	__u64 until_ns; // CLOCK_MONOTONIC (bpf_ktime_get_ns)
	__u32 slot; // this direction's entry in EDGETURN_COUNTERS
	__u32 pad;
};

struct p2c_key {
	__u32 peer_ip;
	__u32 relay_ip;
	__u16 peer_port;
	__u16 relay_port;
};

struct p2c_val {
	__u32 client_ip;
	__u32 server_ip;
	__u16 client_port;
	__u16 server_port;
	__u16 channel;
	__u16 flags; // ROUTE_LOCAL
	__u64 until_ns;
	__u32 slot;
	__u32 pad;
};

// The same for IPv6 routes: addresses are 16 bytes; the fields keep their order.

struct c2p6_key {
	__u8 client_ip[16];
	__u16 client_port;
	__u16 server_port;
	__u16 channel;
	__u16 pad;
};

struct c2p6_val {
	__u8 relay_ip[16];
	__u8 peer_ip[16];
	__u16 relay_port;
	__u16 peer_port;
	__u32 flags;
	__u64 until_ns;
	__u32 slot;
	__u32 pad;
};

struct p2c6_key {
	__u8 peer_ip[16];
	__u8 relay_ip[16];
	__u16 peer_port;
	__u16 relay_port;
};

struct p2c6_val {
	__u8 client_ip[16];
	__u8 server_ip[16];
	__u16 client_port;
	__u16 server_port;
	__u16 channel;
	__u16 flags;
	__u64 until_ns;
	__u32 slot;
	__u32 pad;
};

// What one direction of a route carried. Per CPU, so the program adds without atomics and
// packets and bytes always agree; user space sums the CPUs. The counters live apart from the
// routes so that user space can move a route's deadline without touching them.
struct counters {
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct c2p_key);
	__type(value, struct c2p_val);
} EDGETURN_C2P SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct p2c_key);
	__type(value, struct p2c_val);
} EDGETURN_P2C SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct c2p6_key);
	__type(value, struct c2p6_val);
} EDGETURN_C2P6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct p2c6_key);
	__type(value, struct p2c6_val);
} EDGETURN_P2C6 SEC(".maps");

// Both families' routes count here: one slot per route, whichever family.
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2 * 65536);
	__type(key, __u32);
	__type(value, struct counters);
} EDGETURN_COUNTERS SEC(".maps");

#define ETH_LEN 14
#define IP_OFF ETH_LEN
#define UDP_OFF (ETH_LEN + 20)
#define PAYLOAD_OFF (UDP_OFF + 8)
#define IP_CSUM_OFF (IP_OFF + 10)
#define IP_LEN_OFF (IP_OFF + 2)
#define IP_SRC_OFF (IP_OFF + 12)
#define IP_DST_OFF (IP_OFF + 16)
#define UDP_SPORT_OFF (UDP_OFF + 0)
#define UDP_DPORT_OFF (UDP_OFF + 2)
#define UDP_LEN_OFF (UDP_OFF + 4)
#define UDP_CSUM_OFF (UDP_OFF + 6)
// IPv6: a 40-byte header without extension headers (anything else takes the sockets).
#define IP6_PLEN_OFF (IP_OFF + 4)
#define IP6_SRC_OFF (IP_OFF + 8)
#define IP6_DST_OFF (IP_OFF + 24)
#define UDP6_OFF (ETH_LEN + 40)
#define PAYLOAD6_OFF (UDP6_OFF + 8)
#define UDP6_SPORT_OFF (UDP6_OFF + 0)
#define UDP6_DPORT_OFF (UDP6_OFF + 2)
#define UDP6_LEN_OFF (UDP6_OFF + 4)
#define UDP6_CSUM_OFF (UDP6_OFF + 6)
// IPv6's UDP checksum is never "none": a zero field (a CHECKSUM_PARTIAL seed) is updated too.
#define CSUM6_FLAGS (BPF_F_MARK_MANGLED_0 | BPF_F_MARK_ENFORCE)
// Largest payload moved in the kernel; larger datagrams take the socket path.
#define MAX_MOVE 1472
#define CHUNK 64

// A route's destination is on this host (set by user space, which can bind to it): the
// rewritten packet continues up this host's stack. Otherwise it leaves through the interface it
// came in on, with the next hop's MAC from the kernel's FIB and neighbour table.
#define ROUTE_LOCAL 1

static __always_inline void count(__u32 slot, __u32 bytes)
{
	struct counters *c = bpf_map_lookup_elem(&EDGETURN_COUNTERS, &slot);
	if (c) {
		c->packets += 1;
		c->bytes += bytes;
	}
}

static __always_inline int deliver(struct __sk_buff *skb, __u32 flags)
{
	if (flags & ROUTE_LOCAL)
		return TC_ACT_UNSPEC;
	return bpf_redirect_neigh(skb->ingress_ifindex, 0, 0, 0);
}

// New source and destination address and port, new lengths; checksums follow incrementally.
static __always_inline int rewrite_headers(struct __sk_buff *skb, __u32 sip, __u16 sport, __u32 dip, __u16 dport, __u16 old_ip_len,
					   __u16 new_ip_len, __u16 old_udp_len, __u16 new_udp_len)
{
	__u32 old_sip, old_dip;
	__u16 old_sport, old_dport;
	if (bpf_skb_load_bytes(skb, IP_SRC_OFF, &old_sip, 4) || bpf_skb_load_bytes(skb, IP_DST_OFF, &old_dip, 4) ||
	    bpf_skb_load_bytes(skb, UDP_SPORT_OFF, &old_sport, 2) || bpf_skb_load_bytes(skb, UDP_DPORT_OFF, &old_dport, 2))
		return -1;
	__u64 pseudo = BPF_F_PSEUDO_HDR | BPF_F_MARK_MANGLED_0;
	__u64 plain = BPF_F_MARK_MANGLED_0;
	// L4: the pseudo header's addresses and length, then the UDP header's own fields.
	if (bpf_l4_csum_replace(skb, UDP_CSUM_OFF, old_sip, sip, pseudo | 4) ||
	    bpf_l4_csum_replace(skb, UDP_CSUM_OFF, old_dip, dip, pseudo | 4) ||
	    bpf_l4_csum_replace(skb, UDP_CSUM_OFF, old_udp_len, new_udp_len, pseudo | 2) ||
	    bpf_l4_csum_replace(skb, UDP_CSUM_OFF, old_udp_len, new_udp_len, plain | 2) ||
	    bpf_l4_csum_replace(skb, UDP_CSUM_OFF, old_sport, sport, plain | 2) ||
	    bpf_l4_csum_replace(skb, UDP_CSUM_OFF, old_dport, dport, plain | 2))
		return -1;
	// L3.
	if (bpf_l3_csum_replace(skb, IP_CSUM_OFF, old_sip, sip, 4) || bpf_l3_csum_replace(skb, IP_CSUM_OFF, old_dip, dip, 4) ||
	    bpf_l3_csum_replace(skb, IP_CSUM_OFF, old_ip_len, new_ip_len, 2))
		return -1;
	if (bpf_skb_store_bytes(skb, IP_SRC_OFF, &sip, 4, 0) || bpf_skb_store_bytes(skb, IP_DST_OFF, &dip, 4, 0) ||
	    bpf_skb_store_bytes(skb, IP_LEN_OFF, &new_ip_len, 2, 0) || bpf_skb_store_bytes(skb, UDP_SPORT_OFF, &sport, 2, 0) ||
	    bpf_skb_store_bytes(skb, UDP_DPORT_OFF, &dport, 2, 0) || bpf_skb_store_bytes(skb, UDP_LEN_OFF, &new_udp_len, 2, 0))
		return -1;
	return 0;
}

// Moves `len` payload bytes from `at` + 4 to `at` (front to back).
static __always_inline int shift_left(struct __sk_buff *skb, __u32 at, __u32 len)
{
	__u8 buf[2 * CHUNK];
	for (int i = 0; i < MAX_MOVE / CHUNK + 1; i++) {
		__u32 off = i * CHUNK;
		if (off >= len)
			break;
		__u32 n = len - off;
		if (n > CHUNK)
			n = CHUNK;
		// A bound the verifier can see (buf has room for it); the barrier keeps the
		// compiler from dropping the mask it can prove redundant.
		asm volatile("" : "+r"(n));
		n &= 2 * CHUNK - 1;
		if (n == 0)
			break;
		if (bpf_skb_load_bytes(skb, at + 4 + off, buf, n) || bpf_skb_store_bytes(skb, at + off, buf, n, 0))
			return -1;
	}
	return 0;
}

// Moves `len` payload bytes from `at` to `at` + 4 (back to front).
static __always_inline int shift_right(struct __sk_buff *skb, __u32 at, __u32 len)
{
	__u8 buf[2 * CHUNK];
	for (int i = 0; i < MAX_MOVE / CHUNK + 1; i++) {
		__u32 done = i * CHUNK;
		if (done >= len)
			break;
		__u32 n = len - done;
		if (n > CHUNK)
			n = CHUNK;
		// A bound the verifier can see (buf has room for it); the barrier keeps the
		// compiler from dropping the mask it can prove redundant.
		asm volatile("" : "+r"(n));
		n &= 2 * CHUNK - 1;
		if (n == 0)
			break;
		__u32 off = len - done - n;
		if (bpf_skb_load_bytes(skb, at + off, buf, n) || bpf_skb_store_bytes(skb, at + 4 + off, buf, n, 0))
			return -1;
	}
	return 0;
}

// Where one family's UDP payload and checksum are, and how its checksum is updated.
struct layout {
	__u32 payload;
	__u32 csum;
	__u64 csum_flags;
};

#define LAYOUT4 ((struct layout){ PAYLOAD_OFF, UDP_CSUM_OFF, BPF_F_MARK_MANGLED_0 })
#define LAYOUT6 ((struct layout){ PAYLOAD6_OFF, UDP6_CSUM_OFF, CSUM6_FLAGS })

// Client to peer, before the IP and UDP headers are rewritten: the ChannelData header leaves
// the checksummed data and the payload moves 4 bytes forward (the tail is trimmed after).
static __always_inline int strip_channel_header(struct __sk_buff *skb, struct layout l, __u16 cd_word0, __u16 cd_word1,
						__u32 data_len)
{
	if (bpf_l4_csum_replace(skb, l.csum, cd_word0, 0, l.csum_flags | 2) ||
	    bpf_l4_csum_replace(skb, l.csum, cd_word1, 0, l.csum_flags | 2))
		return -1;
	return shift_left(skb, l.payload, data_len);
}

// Peer to client, before the IP and UDP headers are rewritten: 4 more bytes, the payload moved
// back, the ChannelData header in front of it and in the checksum (the grown tail was zero).
static __always_inline int add_channel_header(struct __sk_buff *skb, struct layout l, __u16 channel, __u32 data_len)
{
	if (bpf_skb_change_tail(skb, skb->len + 4, 0) || shift_right(skb, l.payload, data_len))
		return -1;
	__u16 hdr[2] = { channel, bpf_htons((__u16)data_len) };
	if (bpf_skb_store_bytes(skb, l.payload, hdr, 4, 0) || bpf_l4_csum_replace(skb, l.csum, 0, hdr[0], l.csum_flags | 2) ||
	    bpf_l4_csum_replace(skb, l.csum, 0, hdr[1], l.csum_flags | 2))
		return -1;
	return 0;
}

static __always_inline int client_to_peer(struct __sk_buff *skb, struct c2p_val *v, __u16 ip_len, __u16 udp_len, __u16 cd_word0,
					  __u16 cd_word1, __u32 data_len)
{
	if (strip_channel_header(skb, LAYOUT4, cd_word0, cd_word1, data_len) ||
	    rewrite_headers(skb, v->relay_ip, v->relay_port, v->peer_ip, v->peer_port, bpf_htons(ip_len), bpf_htons(ip_len - 4),
			    bpf_htons(udp_len), bpf_htons(udp_len - 4)) ||
	    bpf_skb_change_tail(skb, skb->len - 4, 0))
		return TC_ACT_SHOT;
	count(v->slot, data_len);
	return deliver(skb, v->flags);
}

static __always_inline int peer_to_client(struct __sk_buff *skb, struct p2c_val *v, __u16 ip_len, __u16 udp_len, __u32 data_len)
{
	if (data_len > MAX_MOVE)
		return TC_ACT_UNSPEC;
	if (add_channel_header(skb, LAYOUT4, v->channel, data_len) ||
	    rewrite_headers(skb, v->server_ip, v->server_port, v->client_ip, v->client_port, bpf_htons(ip_len), bpf_htons(ip_len + 4),
			    bpf_htons(udp_len), bpf_htons(udp_len + 4)))
		return TC_ACT_SHOT;
	count(v->slot, data_len);
	return deliver(skb, v->flags);
}

// IPv6: new addresses and ports, new lengths. The pseudo header's addresses change by a
// bpf_csum_diff over all 32 address bytes; its 32-bit length and the UDP length field (the
// same 16-bit value) as in IPv4. No IP header checksum; the payload length is the UDP length.
static __always_inline int rewrite_headers6(struct __sk_buff *skb, const __u8 *sip, __u16 sport, const __u8 *dip, __u16 dport,
					    __u16 old_udp_len, __u16 new_udp_len)
{
	__be32 old_addrs[8], new_addrs[8];
	__u16 old_sport, old_dport;
	if (bpf_skb_load_bytes(skb, IP6_SRC_OFF, old_addrs, 32) || bpf_skb_load_bytes(skb, UDP6_SPORT_OFF, &old_sport, 2) ||
	    bpf_skb_load_bytes(skb, UDP6_DPORT_OFF, &old_dport, 2))
		return -1;
	__builtin_memcpy(new_addrs, sip, 16);
	__builtin_memcpy((__u8 *)new_addrs + 16, dip, 16);
	__s64 diff = bpf_csum_diff(old_addrs, 32, new_addrs, 32, 0);
	if (diff < 0)
		return -1;
	__u64 pseudo = BPF_F_PSEUDO_HDR | CSUM6_FLAGS;
	if (bpf_l4_csum_replace(skb, UDP6_CSUM_OFF, 0, diff, pseudo) ||
	    bpf_l4_csum_replace(skb, UDP6_CSUM_OFF, old_udp_len, new_udp_len, pseudo | 2) ||
	    bpf_l4_csum_replace(skb, UDP6_CSUM_OFF, old_udp_len, new_udp_len, CSUM6_FLAGS | 2) ||
	    bpf_l4_csum_replace(skb, UDP6_CSUM_OFF, old_sport, sport, CSUM6_FLAGS | 2) ||
	    bpf_l4_csum_replace(skb, UDP6_CSUM_OFF, old_dport, dport, CSUM6_FLAGS | 2))
		return -1;
	if (bpf_skb_store_bytes(skb, IP6_SRC_OFF, new_addrs, 32, 0) || bpf_skb_store_bytes(skb, IP6_PLEN_OFF, &new_udp_len, 2, 0) ||
	    bpf_skb_store_bytes(skb, UDP6_SPORT_OFF, &sport, 2, 0) || bpf_skb_store_bytes(skb, UDP6_DPORT_OFF, &dport, 2, 0) ||
	    bpf_skb_store_bytes(skb, UDP6_LEN_OFF, &new_udp_len, 2, 0))
		return -1;
	return 0;
}

static __always_inline int client_to_peer6(struct __sk_buff *skb, struct c2p6_val *v, __u16 udp_len, __u16 cd_word0,
					   __u16 cd_word1, __u32 data_len)
{
	if (strip_channel_header(skb, LAYOUT6, cd_word0, cd_word1, data_len) ||
	    rewrite_headers6(skb, v->relay_ip, v->relay_port, v->peer_ip, v->peer_port, bpf_htons(udp_len), bpf_htons(udp_len - 4)) ||
	    bpf_skb_change_tail(skb, skb->len - 4, 0))
		return TC_ACT_SHOT;
	count(v->slot, data_len);
	return deliver(skb, v->flags);
}

static __always_inline int peer_to_client6(struct __sk_buff *skb, struct p2c6_val *v, __u16 udp_len, __u32 data_len)
{
	if (data_len > MAX_MOVE)
		return TC_ACT_UNSPEC;
	if (add_channel_header(skb, LAYOUT6, v->channel, data_len) ||
	    rewrite_headers6(skb, v->server_ip, v->server_port, v->client_ip, v->client_port, bpf_htons(udp_len), bpf_htons(udp_len + 4)))
		return TC_ACT_SHOT;
	count(v->slot, data_len);
	return deliver(skb, v->flags);
}

// An IPv6 datagram: UDP right behind the fixed header, exactly one datagram in the skb.
static __always_inline int ipv6(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ipv6hdr *ip = data + ETH_LEN;
	struct udphdr *udp = data + UDP6_OFF;
	if ((void *)(udp + 1) > end)
		return TC_ACT_UNSPEC;
	if (ip->version != 6 || ip->nexthdr != IPPROTO_UDP)
		return TC_ACT_UNSPEC;
	__u16 udp_len = bpf_ntohs(udp->len);
	if (udp_len < 8 || bpf_ntohs(ip->payload_len) != udp_len || skb->len != UDP6_OFF + udp_len)
		return TC_ACT_UNSPEC;
	__u32 payload = udp_len - 8;

	__u8 *p = (void *)(udp + 1);
	if (payload >= 4 && (void *)(p + 4) <= end && (p[0] & 0xC0) == 0x40) {
		struct c2p6_key k = {
			.client_port = udp->source,
			.server_port = udp->dest,
			.channel = (__u16)p[0] | ((__u16)p[1] << 8),
		};
		__builtin_memcpy(k.client_ip, &ip->saddr, 16);
		struct c2p6_val *v = bpf_map_lookup_elem(&EDGETURN_C2P6, &k);
		if (v) {
			__u32 cd_len = ((__u32)p[2] << 8) | p[3];
			if (cd_len + 4 != payload || cd_len > MAX_MOVE || bpf_ktime_get_ns() >= v->until_ns)
				return TC_ACT_UNSPEC;
			__u16 w0 = (__u16)p[0] | ((__u16)p[1] << 8);
			__u16 w1 = (__u16)p[2] | ((__u16)p[3] << 8);
			return client_to_peer6(skb, v, udp_len, w0, w1, cd_len);
		}
	}
	struct p2c6_key pk = {
		.peer_port = udp->source,
		.relay_port = udp->dest,
	};
	__builtin_memcpy(pk.peer_ip, &ip->saddr, 16);
	__builtin_memcpy(pk.relay_ip, &ip->daddr, 16);
	struct p2c6_val *pv = bpf_map_lookup_elem(&EDGETURN_P2C6, &pk);
	if (pv && bpf_ktime_get_ns() < pv->until_ns)
		return peer_to_client6(skb, pv, udp_len, payload);
	return TC_ACT_UNSPEC;
}

SEC("classifier")
int edgeturn_channel_data(struct __sk_buff *skb)
{
	// Several datagrams behind one header (GSO/GRO): the sockets split and frame them.
	if (skb->gso_size || skb->gso_segs > 1)
		return TC_ACT_UNSPEC;
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	// Linear bytes up to an IPv6 ChannelData header (the longer of the two families).
	if (data + PAYLOAD6_OFF + 4 > end) {
		if (skb->len < PAYLOAD_OFF || bpf_skb_pull_data(skb, PAYLOAD6_OFF + 4 < skb->len ? PAYLOAD6_OFF + 4 : skb->len))
			return TC_ACT_UNSPEC;
		data = (void *)(long)skb->data;
		end = (void *)(long)skb->data_end;
		if (data + PAYLOAD_OFF > end)
			return TC_ACT_UNSPEC;
	}
	struct ethhdr *eth = data;
	if (eth->h_proto == bpf_htons(ETH_P_IPV6))
		return ipv6(skb);
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return TC_ACT_UNSPEC;
	struct iphdr *ip = (void *)(eth + 1);
	if (ip->ihl != 5 || ip->version != 4 || ip->protocol != IPPROTO_UDP || (ip->frag_off & bpf_htons(0x3fff)))
		return TC_ACT_UNSPEC;
	struct udphdr *udp = (void *)(ip + 1);
	__u16 ip_len = bpf_ntohs(ip->tot_len);
	__u16 udp_len = bpf_ntohs(udp->len);
	if (udp_len < 8 || ip_len != 20 + udp_len || skb->len != ETH_LEN + ip_len)
		return TC_ACT_UNSPEC;

	__u32 payload = udp_len - 8;

	__u8 *p = (void *)(udp + 1);
	if (payload >= 4 && (void *)(p + 4) <= end && (p[0] & 0xC0) == 0x40) {
		struct c2p_key k = {
			.client_ip = ip->saddr,
			.client_port = udp->source,
			.server_port = udp->dest,
			.channel = (__u16)p[0] | ((__u16)p[1] << 8),
		};
		struct c2p_val *v = bpf_map_lookup_elem(&EDGETURN_C2P, &k);
		if (v) {
			__u32 cd_len = ((__u32)p[2] << 8) | p[3];
			// Exactly one unpadded ChannelData message, small enough to move here.
			if (cd_len + 4 != payload || cd_len > MAX_MOVE || bpf_ktime_get_ns() >= v->until_ns)
				return TC_ACT_UNSPEC;
			__u16 w0 = (__u16)p[0] | ((__u16)p[1] << 8);
			__u16 w1 = (__u16)p[2] | ((__u16)p[3] << 8);
			return client_to_peer(skb, v, ip_len, udp_len, w0, w1, cd_len);
		}
	}
	struct p2c_key pk = {
		.peer_ip = ip->saddr,
		.relay_ip = ip->daddr,
		.peer_port = udp->source,
		.relay_port = udp->dest,
	};
	struct p2c_val *pv = bpf_map_lookup_elem(&EDGETURN_P2C, &pk);
	if (pv && bpf_ktime_get_ns() < pv->until_ns)
		return peer_to_client(skb, pv, ip_len, udp_len, payload);
	return TC_ACT_UNSPEC;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
