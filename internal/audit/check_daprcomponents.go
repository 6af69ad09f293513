package audit

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/budnet/budnet/internal/manifest"
)

// Guide section 9.2: "Cluster -> Management: Dapr pub/sub over mTLS". Dapr's
// mTLS covers sidecar to sidecar only; a pub/sub component talks to its
// broker with the broker's own protocol, so the component's metadata decides
// whether that hop is encrypted and where its credentials come from
// (https://docs.dapr.io/reference/components-reference/supported-pubsub/).
// Redis components are judged by BUD-5-03 (enableTLS), not here again.

// metaItem is one spec.metadata entry of a Dapr Component. Dapr matches
// metadata names case-insensitively (components-contrib metadata.DecodeMetadata).
type metaItem struct {
	index     int
	name      string
	value     string
	secretRef bool
	field     string
}

func daprMetadata(o *manifest.Object) []metaItem {
	var out []metaItem
	for i, m := range nestedSlice(o, "spec", "metadata") {
		mm := asMap(m)
		_, ref := nestedIn(mm, "secretKeyRef")
		out = append(out, metaItem{index: i, name: stringIn(mm, "name"), value: stringIn(mm, "value"), secretRef: ref,
			field: fmt.Sprintf("spec.metadata[%d]", i)})
	}
	return out
}

func metaGet(items []metaItem, names ...string) (metaItem, bool) {
	for _, it := range items {
		for _, n := range names {
			if strings.EqualFold(it.name, n) {
				return it, true
			}
		}
	}
	return metaItem{}, false
}

func checkDaprPubSubTLS() Check {
	return Check{
		ID: "BUD-9.2-02", Title: "Dapr pub/sub components reach their broker over TLS", Section: "9.2", Severity: SeverityHigh,
		Remediation: `Leave TLS on for every pub/sub component: Kafka without disableTls (or "false") against TLS listeners with caCert, RabbitMQ amqps://, MQTT ssl:// or tls://, Pulsar enableTLS "true". Dapr mTLS protects sidecar to sidecar only, never the hop to the broker.`,
		Doc:         docOf("BUD-9.2-02"),
		Run: func(c *Context) []Result {
			var out []Result
			for _, o := range objectsOf(c.Inventory, groupsDapr, "Component") {
				typ := strings.ToLower(nestedString(o, "spec", "type"))
				if !strings.HasPrefix(typ, "pubsub.") && !strings.HasPrefix(typ, "bindings.") {
					continue
				}
				if r, ok := pubsubTLS(o, typ, daprMetadata(o)); ok {
					out = append(out, r)
				}
			}
			return out
		},
	}
}

// pubsubTLS judges one broker component; ok is false for types it does not
// know (Redis is BUD-5-03's, cloud brokers are HTTPS-only).
func pubsubTLS(o *manifest.Object, typ string, items []metaItem) (Result, bool) {
	subject := o.Ref()
	fromSecret := func(it metaItem) Result {
		return res(StatusPartial, subject, fmt.Sprintf("%s takes %s from a secret; its value is not in the input", typ, it.name), ObjectEvidence(o, it.field, "secretKeyRef"))
	}
	switch typ {
	case "pubsub.kafka", "bindings.kafka":
		// disableTls defaults to false (TLS on) and is read with Dapr's
		// truthy parser (utils.IsTruthy: true, t, yes, y, on, 1).
		it, ok := metaGet(items, "disableTls")
		switch {
		case ok && it.secretRef:
			return fromSecret(it), true
		case ok && truthy(it.value):
			return res(StatusFail, subject, fmt.Sprintf("%s sets disableTls %q: messages and SASL credentials cross the network in plaintext", typ, it.value),
				ObjectEvidence(o, it.field+".value", "disableTls="+it.value)), true
		}
		if it, ok := metaGet(items, "skipVerify"); ok && truthy(it.value) {
			return res(StatusPartial, subject, typ+" skips verifying the broker's certificate (skipVerify)", ObjectEvidence(o, it.field+".value", "skipVerify="+it.value)), true
		}
		return res(StatusPass, subject, typ+" uses TLS (disableTls is not set)", ObjectEvidence(o, "spec.metadata", "")), true
	case "pubsub.rabbitmq", "bindings.rabbitmq":
		return urlTLS(o, typ, items, []string{"connectionString", "host", "url"}, "amqps"), true
	case "pubsub.mqtt", "pubsub.mqtt3", "bindings.mqtt", "bindings.mqtt3":
		return urlTLS(o, typ, items, []string{"url"}, "ssl", "tls", "mqtts", "wss"), true
	case "pubsub.pulsar":
		if it, ok := metaGet(items, "enableTLS"); ok {
			if it.secretRef {
				return fromSecret(it), true
			}
			if truthy(it.value) {
				return res(StatusPass, subject, typ+" uses TLS", ObjectEvidence(o, it.field+".value", it.value)), true
			}
		}
		return res(StatusFail, subject, typ+" without enableTLS \"true\": Pulsar defaults to plaintext", ObjectEvidence(o, "spec.metadata", "no enableTLS")), true
	}
	return Result{}, false
}

// urlTLS judges a broker URL by its scheme.
func urlTLS(o *manifest.Object, typ string, items []metaItem, names []string, tlsSchemes ...string) Result {
	it, ok := metaGet(items, names...)
	switch {
	case !ok:
		return res(StatusFail, o.Ref(), fmt.Sprintf("%s names no broker URL (%s): not judged as TLS", typ, strings.Join(names, ", ")), ObjectEvidence(o, "spec.metadata", "no "+names[0]))
	case it.secretRef:
		return res(StatusPartial, o.Ref(), fmt.Sprintf("%s takes %s from a secret; its scheme is not in the input", typ, it.name), ObjectEvidence(o, it.field, "secretKeyRef"))
	}
	u, err := url.Parse(strings.TrimSpace(it.value))
	if err != nil {
		return res(StatusFail, o.Ref(), fmt.Sprintf("%s has an unparsable %s: %v", typ, it.name, err), ObjectEvidence(o, it.field+".value", mask(it.name, it.value)))
	}
	for _, s := range tlsSchemes {
		if strings.EqualFold(u.Scheme, s) {
			return res(StatusPass, o.Ref(), typ+" connects with "+u.Scheme+"://", ObjectEvidence(o, it.field+".value", mask(it.name, it.value)))
		}
	}
	return res(StatusFail, o.Ref(), fmt.Sprintf("%s connects with %s:// (plaintext; TLS is %s://)", typ, u.Scheme, tlsSchemes[0]), ObjectEvidence(o, it.field+".value", mask(it.name, it.value)))
}

func checkDaprComponentSecrets() Check {
	return Check{
		ID: "BUD-9.2-03", Title: "Dapr components take credentials from a secret store", Section: "9.2", Severity: SeverityHigh,
		Remediation: "Move every password, SASL password, token, key and connection string with credentials out of the Component's value into a Secret and reference it with secretKeyRef (and auth.secretStore when not the Kubernetes store); anyone who can read Components can read inline values, and they end up in Git.",
		Doc:         docOf("BUD-9.2-03"),
		Run: func(c *Context) []Result {
			var out []Result
			for _, o := range objectsOf(c.Inventory, groupsDapr, "Component") {
				out = append(out, componentSecrets(o)...)
			}
			return out
		},
	}
}

// credentialName matches metadata names that hold credentials in Dapr's
// components (redisPassword, saslPassword, accessKey, secretKey, masterKey,
// clientSecret, token, connectionString, ...).
var credentialName = regexp.MustCompile(`(?i)(password|passwd|secret|token|apikey|accesskey|secretkey|masterkey|privatekey|accountkey|credential|sastoken|connectionstring)`)

// notCredential are names the pattern catches that hold no secret.
var notCredential = regexp.MustCompile(`(?i)^(secretstore|tokenkey|accesskeyid|secretsmanager.*|.*file|.*path|.*ttl.*)$`)

// credentialPattern returns the part of a value that is a secret: a URL or
// DSN password, or a PEM private key.
func inlineCredential(name, value string) (string, bool) {
	v := strings.TrimSpace(value)
	if v == "" || strings.HasPrefix(v, "{{") {
		return "", false
	}
	if credentialName.MatchString(name) && !notCredential.MatchString(name) {
		if strings.Contains(strings.ToLower(name), "connectionstring") || strings.Contains(v, "://") {
			// A connection string is a secret only when it carries one.
			return urlSecret(v)
		}
		return "a " + name, true
	}
	if strings.Contains(v, "PRIVATE KEY-----") {
		return "a PEM private key", true
	}
	return urlSecret(v)
}

// urlSecret finds a password inside a URL (scheme://user:pass@host) or a
// key=value DSN (Password=...; password=...).
func urlSecret(v string) (string, bool) {
	if u, err := url.Parse(v); err == nil && u.User != nil {
		if p, ok := u.User.Password(); ok && p != "" {
			return "a password inside a URL", true
		}
	}
	for _, part := range strings.FieldsFunc(v, func(r rune) bool { return r == ';' || r == ' ' || r == '&' || r == '?' }) {
		k, val, ok := strings.Cut(part, "=")
		k = strings.ToLower(strings.TrimSpace(k))
		if ok && strings.TrimSpace(val) != "" && (k == "password" || k == "pwd" || k == "sharedaccesskey" || k == "accountkey") {
			return "a " + k + " inside a connection string", true
		}
	}
	return "", false
}

func componentSecrets(o *manifest.Object) []Result {
	typ := nestedString(o, "spec", "type")
	var out []Result
	for _, it := range daprMetadata(o) {
		if it.secretRef {
			continue
		}
		what, ok := inlineCredential(it.name, it.value)
		if !ok {
			continue
		}
		out = append(out, res(StatusFail, o.Ref()+" "+it.name,
			fmt.Sprintf("%s carries %s inline in metadata %s instead of a secretKeyRef", typ, what, it.name),
			ObjectEvidence(o, it.field+".value", it.name+"="+mask("PASSWORD", it.value))))
	}
	if len(out) == 0 {
		out = append(out, res(StatusPass, o.Ref(), typ+" has no inline credential", ObjectEvidence(o, "spec.metadata", "")))
	}
	return out
}
