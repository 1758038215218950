package collector

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// trustedProxies are the reverse proxies in front of the collector (trusted_proxies).
type trustedProxies []netip.Prefix

// parseTrustedProxies reads CIDRs or single addresses.
func parseTrustedProxies(list []string) (trustedProxies, error) {
	var out trustedProxies
	for i, s := range list {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return nil, fmt.Errorf("trusted_proxies[%d]: %q is neither a CIDR nor an address", i, s)
			}
			p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

func (t trustedProxies) contains(a netip.Addr) bool {
	for _, p := range t {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientAddr returns the address of r's client. Only when the direct peer is a trusted proxy
// is X-Forwarded-For read, from the right: every hop there was appended by the proxy to its
// right, so the first hop that is not itself a trusted proxy is the client as a trusted proxy
// saw it; whatever lies further left the client wrote and proves nothing. A hop that does not
// parse ends the walk at the proxy that wrote it. ok is false when RemoteAddr is not an
// address (not a TCP connection).
func (t trustedProxies) clientAddr(r *http.Request) (a netip.Addr, ok bool) {
	a, ok = parseHop(r.RemoteAddr)
	if !ok || !t.contains(a) {
		return a, ok
	}
	hops := r.Header.Values("X-Forwarded-For")
	for i := len(hops) - 1; i >= 0; i-- {
		h := hops[i]
		for h != "" {
			var hop string
			if j := strings.LastIndexByte(h, ','); j >= 0 {
				h, hop = h[:j], h[j+1:]
			} else {
				h, hop = "", h
			}
			next, ok := parseHop(strings.TrimSpace(hop))
			if !ok {
				return a, true
			}
			if !t.contains(next) {
				return next, true
			}
			a = next
		}
	}
	return a, true // every hop is a trusted proxy: the farthest one is the client
}

// parseHop reads an address, with or without a port.
func parseHop(s string) (netip.Addr, bool) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone(""), true
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().WithZone(""), true
	}
	return netip.Addr{}, false
}

// clientKey names r's client for the per-IP limit: an IPv4 address, or an IPv6 address's /64
// prefix, because one household or host gets a whole /64 and can use any address in it.
func (t trustedProxies) clientKey(r *http.Request) string {
	a, ok := t.clientAddr(r)
	if !ok {
		return r.RemoteAddr
	}
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}
