package infer

import (
	"strings"
	"testing"
)

// FuzzEndpointsOf holds the value scanner to never panic and to return only
// plausible endpoints: a non-empty host without userinfo, a port in range.
func FuzzEndpointsOf(f *testing.F) {
	for _, s := range []string{
		"postgresql://bud:p%40ss@bud-postgresql.bud-data:5432/bud?sslmode=verify-full",
		"mongodb://u:p@a:27017,b.ns.svc.cluster.local:27017/db?replicaSet=rs0",
		"a-0.k.ns.svc.cluster.local:9092,a-1.k.ns.svc.cluster.local:9092",
		"host=pg port=5432 dbname=bud",
		"redis://:$(REDIS_PASSWORD)@valkey:6379/0",
		"jdbc:postgresql://pg:5432/x",
		"http://[::1]:8080/x",
		"amqp://guest@rabbitmq",
		"https://user:pa@ss@evil.example:443/",
		"10:30, 12:00",
		"://", "x://@", "a:99999", "[::1]:0",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		for _, ep := range endpointsOf(v) {
			if ep.host == "" {
				t.Fatalf("%q: empty host in %+v", v, ep)
			}
			if strings.Contains(ep.host, "@") {
				t.Fatalf("%q: userinfo left in host %q", v, ep.host)
			}
			if ep.port < 0 || ep.port > 65535 {
				t.Fatalf("%q: port %d out of range", v, ep.port)
			}
		}
		if r := redact(v); strings.Count(r, "REDACTED") > strings.Count(v, "@")+strings.Count(v, "REDACTED") {
			t.Fatalf("%q: redact invented passwords: %q", v, r)
		}
	})
}

// FuzzObservations holds the log and export parsers to errors, never panics.
func FuzzObservations(f *testing.F) {
	f.Add(`{"msg":"egress","source":"gw","requested":"api.openai.com:443","reason":"rule"}`)
	f.Add(`{"flow":{"l4":{"TCP":{"destination_port":443}},"source":{"namespace":"bud","labels":["k8s:app=x"]},"destination_names":["a.example."]}}`)
	f.Add(`{"flow":{"l4":{"UDP":{"destinationPort":"53"}},"isReply":{"value":true}}}`)
	f.Add("{}\n\n[1,2]")
	f.Fuzz(func(t *testing.T, s string) {
		if obs, err := ParseEgressLog("f", strings.NewReader(s)); err == nil {
			for _, o := range obs {
				if o.Port < 0 || o.Port > 65535 {
					t.Fatalf("port %d", o.Port)
				}
			}
		}
		_, _ = ParseHubble("f", strings.NewReader(s))
	})
}
