package platform

import (
	"fmt"
	"strconv"
	"strings"
)

// Origin is a browser origin an edge host's pages call (EdgeHost.Calls):
// https for fetch, XHR and EventSource, wss for WebSocket.
type Origin struct {
	Scheme string // https or wss
	Host   string // a DNS name, or *.domain for any subdomain
	Port   int    // 0 for the scheme's default port
}

// String is the origin as a CSP source expression, which is also how the
// model spells it (https://www.w3.org/TR/CSP3/#grammardef-host-source).
func (o Origin) String() string {
	if o.Port == 0 {
		return o.Scheme + "://" + o.Host
	}
	return o.Scheme + "://" + o.Host + ":" + strconv.Itoa(o.Port)
}

// ParseOrigin reads "https://host[:port]" or "wss://host[:port]". Plain
// http and ws are refused: an HTTPS page may not call them (mixed content),
// and the edge only serves HTTPS. Paths, queries and user information are
// refused because connect-src would read a path as a prefix match, which
// the model does not mean.
func ParseOrigin(s string) (Origin, error) {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return Origin{}, fmt.Errorf("%q has no scheme, expected https://host or wss://host", s)
	}
	if scheme != "https" && scheme != "wss" {
		return Origin{}, fmt.Errorf("%q: scheme %q, expected https or wss (an HTTPS page cannot call plain http or ws)", s, scheme)
	}
	if strings.ContainsAny(rest, "/?#@ ") {
		return Origin{}, fmt.Errorf("%q is not an origin: expected scheme://host[:port] without path, query or user", s)
	}
	host, portStr, hasPort := strings.Cut(rest, ":")
	o := Origin{Scheme: scheme, Host: host}
	if hasPort {
		p, err := strconv.Atoi(portStr)
		if err != nil || p < 1 || p > 65535 || portStr != strconv.Itoa(p) {
			return Origin{}, fmt.Errorf("%q: port %q, expected 1 to 65535", s, portStr)
		}
		o.Port = p
	}
	if msg := HostError(host); msg != "" {
		return Origin{}, fmt.Errorf("%q: host %q %s", s, host, msg)
	}
	return o, nil
}
