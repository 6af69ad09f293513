// Package egresspeers only pins the peer proxies the egress gateway is
// benchmarked against. The go.mod "tool" directive names smokescreen's own
// main package (github.com/stripe/smokescreen, its root main.go: the proxy as
// Stripe ships it, with its default role-from-certificate and JSON logging);
// hack/ci-egress-peers.sh builds it with `go build`.
package egresspeers
