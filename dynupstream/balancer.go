package dynupstream

import (
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"net/textproto"
	"slices"
	"strconv"
	"sync"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// balancer chooses the server of one attempt among the peers of a tier
// that the filter accepts; nil if there is none.
type balancer interface {
	choose(t *tier, r *http.Request, f filter) *peer
}

func newBalancer(p *LBPolicy) balancer {
	if p == nil {
		return roundRobin{}
	}
	switch p.Policy {
	case PolicyLeastConn:
		return leastConn{}
	case PolicyRandom:
		return weightedRandom{}
	case PolicyIPHash:
		return hashBalancer{key: clientIPKey}
	case PolicyHeader:
		field := textproto.CanonicalMIMEHeaderKey(p.Field)
		return hashBalancer{key: func(r *http.Request) (uint64, bool) {
			v := r.Header[field]
			if len(v) == 0 || v[0] == "" {
				return 0, false
			}
			return hashBytes(v[0]), true
		}}
	case PolicyCookie:
		name := p.Name
		return hashBalancer{key: func(r *http.Request) (uint64, bool) {
			c, err := r.Cookie(name)
			if err != nil || c.Value == "" {
				return 0, false
			}
			return hashBytes(c.Value), true
		}}
	}
	return roundRobin{}
}

// roundRobin is nginx's smooth weighted round robin: each pick adds every
// eligible peer's weight to its current weight, takes the peer with the
// largest current weight and takes the total of the weights off it. Over
// any run of requests the shares follow the weights, and a heavy peer's
// turns are spread out rather than bunched (weights 5, 1, 1 give
// a a b a c a a).
type roundRobin struct{}

func (roundRobin) choose(t *tier, _ *http.Request, f filter) *peer {
	if len(t.peers) == 1 {
		if p := t.peers[0]; f.ok(p) {
			return p
		}
		return nil
	}
	t.mu.Lock()
	p := smoothWRR(t.peers, f, nil)
	t.mu.Unlock()
	return p
}

// smoothWRR runs one smooth weighted round robin pick over the peers the
// filter (and tie, if not nil) accepts. The tier's mutex must be held.
func smoothWRR(peers []*peer, f filter, tie func(*peer) bool) *peer {
	var best *peer
	var total int64
	for _, p := range peers {
		if !f.ok(p) || tie != nil && !tie(p) {
			continue
		}
		p.cw += p.weight
		total += p.weight
		if best == nil || p.cw > best.cw {
			best = p
		}
	}
	if best != nil {
		best.cw -= total
	}
	return best
}

// leastConn picks the peer with the fewest active requests relative to
// its weight; peers that tie share the requests by smooth weighted round
// robin, as nginx's least_conn does.
type leastConn struct{}

func (leastConn) choose(t *tier, _ *http.Request, f filter) *peer {
	t.mu.Lock()
	defer t.mu.Unlock()
	var best *peer
	var bestActive int64
	ties := 0
	for _, p := range t.peers {
		if !f.ok(p) {
			continue
		}
		a := p.st.active.Load()
		switch {
		case best == nil || a*best.weight < bestActive*p.weight:
			best, bestActive, ties = p, a, 1
		case a*best.weight == bestActive*p.weight:
			ties++
		}
	}
	if ties <= 1 {
		return best
	}
	bw := best.weight
	if p := smoothWRR(t.peers, f, func(p *peer) bool {
		return p.st.active.Load()*bw == bestActive*p.weight
	}); p != nil {
		return p
	}
	return best
}

// weightedRandom picks an eligible peer at random in proportion to its
// weight.
type weightedRandom struct{}

func (weightedRandom) choose(t *tier, _ *http.Request, f filter) *peer {
	var total int64
	for _, p := range t.peers {
		if f.ok(p) {
			total += p.weight
		}
	}
	if total == 0 {
		return nil
	}
	n := rand.Int64N(total)
	var last *peer
	for _, p := range t.peers {
		if f.ok(p) {
			last = p
			if n -= p.weight; n < 0 {
				return p
			}
		}
	}
	return last
}

// hashBalancer maps a key of the request onto a consistent hash ring of
// the tier's peers (ketama style: points per peer in proportion to its
// weight, placed by hashing the peer's address). A request goes to the
// first eligible peer clockwise from its key, so adding or removing a
// server moves only the keys next to its points, and a key whose server
// is unavailable moves to the next server and comes back when it
// recovers. Requests without a key are balanced round robin.
type hashBalancer struct {
	// key returns the hash of the request's key, if it has one.
	key func(r *http.Request) (uint64, bool)
}

func (h hashBalancer) choose(t *tier, r *http.Request, f filter) *peer {
	key, ok := h.key(r)
	if !ok {
		return roundRobin{}.choose(t, r, f)
	}
	return t.ring.get(t.peers).lookup(t.peers, key, f)
}

// clientIPKey is ip_hash's key: the first three octets of an IPv4 client
// address or the whole IPv6 address, as in nginx. The client address is
// Caddy's (trusted_proxies applied).
func clientIPKey(r *http.Request) (uint64, bool) {
	s, _ := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string)
	if s == "" {
		s = r.RemoteAddr
		if host, _, err := net.SplitHostPort(s); err == nil {
			s = host
		}
	}
	ip, err := netip.ParseAddr(s)
	if err != nil {
		return 0, false
	}
	ip = ip.Unmap()
	if ip.Is4() {
		b := ip.As4()
		return hashBytes(b[:3]), true
	}
	b := ip.As16()
	return hashBytes(b[:]), true
}

// pointsPerWeight is the number of ring points per unit of weight, and
// maxRingPoints bounds a ring.
const (
	pointsPerWeight = 100
	maxRingPoints   = 1 << 18
)

type ringPoint struct {
	hash uint64
	peer int32
}

type ring []ringPoint

// ringOnce builds a tier's ring on first use.
type ringOnce struct {
	once sync.Once
	r    ring
}

func (o *ringOnce) get(peers []*peer) ring {
	o.once.Do(func() { o.r = buildRing(peers) })
	return o.r
}

func buildRing(peers []*peer) ring {
	var total int64
	for _, p := range peers {
		total += p.weight * pointsPerWeight
	}
	scale := 1.0
	if total > maxRingPoints {
		scale = float64(maxRingPoints) / float64(total)
	}
	r := make(ring, 0, min(total, maxRingPoints)+int64(len(peers)))
	for i, p := range peers {
		n := max(int(float64(p.weight*pointsPerWeight)*scale), 1)
		buf := []byte(p.address + "#")
		base := len(buf)
		for j := range n {
			buf = strconv.AppendInt(buf[:base], int64(j), 10)
			r = append(r, ringPoint{hash: hashBytes(buf), peer: int32(i)})
		}
	}
	slices.SortFunc(r, func(a, b ringPoint) int {
		switch {
		case a.hash < b.hash:
			return -1
		case a.hash > b.hash:
			return 1
		}
		return int(a.peer - b.peer)
	})
	return r
}

// lookup returns the first peer clockwise from h that the filter accepts.
func (r ring) lookup(peers []*peer, h uint64, f filter) *peer {
	if len(r) == 0 {
		return nil
	}
	i, _ := slices.BinarySearchFunc(r, h, func(p ringPoint, h uint64) int {
		switch {
		case p.hash < h:
			return -1
		case p.hash > h:
			return 1
		}
		return 0
	})
	// Each peer is asked once; with up to 64 peers a bit set remembers
	// which were, beyond that the walk may ask a peer again.
	var asked uint64
	left := len(peers)
	for n := 0; n < len(r) && left > 0; n++ {
		pt := r[(i+n)%len(r)]
		if pt.peer < 64 {
			bit := uint64(1) << pt.peer
			if asked&bit != 0 {
				continue
			}
			asked |= bit
			left--
		}
		if p := peers[pt.peer]; f.ok(p) {
			return p
		}
	}
	return nil
}

// hashBytes is 64-bit FNV-1a with a final avalanche (MurmurHash3's fmix64),
// stable across processes so that every node of a fleet maps a key to the
// same server.
func hashBytes[T ~string | ~[]byte](b T) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(b); i++ {
		h ^= uint64(b[i])
		h *= 1099511628211
	}
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9a34e1b6d53
	h ^= h >> 33
	return h
}
