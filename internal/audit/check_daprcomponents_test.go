package audit

import (
	"strings"
	"testing"
)

func daprComponent(typ string, items ...string) string {
	return `apiVersion: dapr.io/v1alpha1
kind: Component
metadata: {name: pubsub, namespace: bud-system}
spec:
  type: ` + typ + `
  version: v1
  metadata:
` + "    - " + strings.Join(items, "\n    - ") + "\n"
}

// TestDaprComponentAttacks tries to get past BUD-9.2-02 and BUD-9.2-03 with
// the spellings Dapr accepts: any case for names, truthy strings for
// booleans, credentials inside connection strings and PEM blocks.
func TestDaprComponentAttacks(t *testing.T) {
	brokers := `{name: brokers, value: "bud-kafka:9092"}`
	tests := []struct {
		name  string
		check Check
		yaml  string
		want  Status
		msg   string
	}{
		{name: "disableTls true", check: checkDaprPubSubTLS(), yaml: daprComponent("pubsub.kafka", brokers, `{name: disableTls, value: "true"}`), want: StatusFail},
		{name: "disableTls in another case", check: checkDaprPubSubTLS(), yaml: daprComponent("pubsub.kafka", brokers, `{name: DisableTLS, value: "True"}`), want: StatusFail},
		{name: "disableTls yes (Dapr's truthy parser)", check: checkDaprPubSubTLS(), yaml: daprComponent("pubsub.kafka", brokers, `{name: disableTls, value: "yes"}`), want: StatusFail},
		{name: "disableTls 1 unquoted", check: checkDaprPubSubTLS(), yaml: daprComponent("pubsub.kafka", brokers, `{name: disableTls, value: 1}`), want: StatusFail},
		{name: "disableTls boolean", check: checkDaprPubSubTLS(), yaml: daprComponent("pubsub.kafka", brokers, `{name: disableTls, value: true}`), want: StatusFail},
		{name: "disableTls from a secret is not judged as TLS", check: checkDaprPubSubTLS(), yaml: daprComponent("pubsub.kafka", brokers, `{name: disableTls, secretKeyRef: {name: k, key: tls}}`), want: StatusPartial},
		{name: "disableTls false", check: checkDaprPubSubTLS(), yaml: daprComponent("pubsub.kafka", brokers, `{name: disableTls, value: "false"}`), want: StatusPass},
		{name: "Kafka binding with TLS off", check: checkDaprPubSubTLS(), yaml: daprComponent("bindings.kafka", brokers, `{name: disableTls, value: "on"}`), want: StatusFail},
		{name: "skipVerify", check: checkDaprPubSubTLS(), yaml: daprComponent("pubsub.kafka", brokers, `{name: skipVerify, value: "true"}`), want: StatusPartial},
		{name: "type in upper case", check: checkDaprPubSubTLS(), yaml: daprComponent("PubSub.Kafka", brokers, `{name: disableTls, value: "true"}`), want: StatusFail},
		{name: "RabbitMQ amqp://", check: checkDaprPubSubTLS(), yaml: daprComponent("pubsub.rabbitmq", `{name: connectionString, value: "amqp://bud-rabbitmq:5672"}`), want: StatusFail},
		{name: "RabbitMQ AMQP:// upper case", check: checkDaprPubSubTLS(), yaml: daprComponent("pubsub.rabbitmq", `{name: ConnectionString, value: "AMQP://bud-rabbitmq:5672"}`), want: StatusFail},
		{name: "RabbitMQ amqps://", check: checkDaprPubSubTLS(), yaml: daprComponent("pubsub.rabbitmq", `{name: connectionString, value: "amqps://bud-rabbitmq:5671"}`), want: StatusPass},
		{name: "MQTT tcp://", check: checkDaprPubSubTLS(), yaml: daprComponent("pubsub.mqtt3", `{name: url, value: "tcp://mqtt:1883"}`), want: StatusFail},
		{name: "Pulsar without enableTLS", check: checkDaprPubSubTLS(), yaml: daprComponent("pubsub.pulsar", `{name: host, value: "pulsar:6650"}`), want: StatusFail},

		{name: "inline redisPassword", check: checkDaprComponentSecrets(), yaml: daprComponent("state.redis", `{name: redisPassword, value: "s3cret"}`), want: StatusFail},
		{name: "inline name in another case", check: checkDaprComponentSecrets(), yaml: daprComponent("state.redis", `{name: RedisPASSWORD, value: "s3cret"}`), want: StatusFail},
		{name: "inline SASL password", check: checkDaprComponentSecrets(), yaml: daprComponent("pubsub.kafka", brokers, `{name: saslPassword, value: "p"}`), want: StatusFail},
		{name: "password inside a connection string URL", check: checkDaprComponentSecrets(), yaml: daprComponent("pubsub.rabbitmq", `{name: connectionString, value: "amqps://bud:hunter2@rabbit:5671"}`), want: StatusFail},
		{name: "password inside a redisHost URL", check: checkDaprComponentSecrets(), yaml: daprComponent("state.redis", `{name: redisHost, value: "redis://:hunter2@valkey:6379"}`), want: StatusFail},
		{name: "PostgreSQL DSN with password=", check: checkDaprComponentSecrets(), yaml: daprComponent("state.postgresql", `{name: connectionString, value: "host=pg user=bud password=hunter2 port=5432"}`), want: StatusFail},
		{name: "Service Bus SharedAccessKey", check: checkDaprComponentSecrets(), yaml: daprComponent("pubsub.azure.servicebus.topics", `{name: connectionString, value: "Endpoint=sb://x.servicebus.windows.net/;SharedAccessKeyName=a;SharedAccessKey=abc="}`), want: StatusFail},
		{name: "PEM private key in clientKey", check: checkDaprComponentSecrets(), yaml: daprComponent("pubsub.kafka", brokers, `{name: clientKey, value: "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----"}`), want: StatusFail},
		{name: "S3 secretKey inline", check: checkDaprComponentSecrets(), yaml: daprComponent("bindings.aws.s3", `{name: accessKey, value: "AKIAX"}`, `{name: secretKey, value: "wJalr"}`), want: StatusFail},
		{name: "connection string without credentials", check: checkDaprComponentSecrets(), yaml: daprComponent("pubsub.rabbitmq", `{name: connectionString, value: "amqps://rabbit:5671"}`), want: StatusPass},
		{name: "secretKeyRef", check: checkDaprComponentSecrets(), yaml: daprComponent("state.redis", `{name: redisPassword, secretKeyRef: {name: v, key: p}}`), want: StatusPass},
		{name: "empty password", check: checkDaprComponentSecrets(), yaml: daprComponent("state.redis", `{name: redisPassword, value: ""}`), want: StatusPass},
		{name: "secretStore name is no secret", check: checkDaprComponentSecrets(), yaml: daprComponent("state.redis", `{name: redisHost, value: "valkey:6379"}`), want: StatusPass},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := runYAML(t, tt.check, tt.yaml)
			st, msg := statusOf(rs, "pubsub")
			if st != tt.want {
				t.Fatalf("status %q (%s), want %q; results %+v", st, msg, tt.want, rs)
			}
			if tt.msg != "" && !strings.Contains(msg, tt.msg) {
				t.Errorf("message %q does not say %q", msg, tt.msg)
			}
			for _, r := range rs {
				for _, ev := range r.Evidence {
					if strings.Contains(ev.Detail, "hunter2") || strings.Contains(ev.Detail, "s3cret") {
						t.Errorf("evidence leaks the secret: %q", ev.Detail)
					}
				}
			}
		})
	}
}

// TestDaprRedisPubSubLeftToBUD503: a Redis pub/sub is BUD-5-03's, so 9.2-02
// does not report the same cause twice.
func TestDaprRedisPubSubLeftToBUD503(t *testing.T) {
	rs := runYAML(t, checkDaprPubSubTLS(), daprComponent("pubsub.redis", `{name: redisHost, value: "valkey:6379"}`))
	if len(rs) != 0 {
		t.Fatalf("got %+v, want no result", rs)
	}
}

// TestDaprRedisStoresJudgedByBUD503 pins the issue's "state and
// configuration stores on Redis without enableTLS" to the existing check
// rather than a second one.
func TestDaprRedisStoresJudgedByBUD503(t *testing.T) {
	for _, typ := range []string{"state.redis", "configuration.redis", "lock.redis"} {
		t.Run(typ, func(t *testing.T) {
			rs := runYAML(t, checkDaprRedisTLS(), daprComponent(typ, `{name: redisHost, value: "valkey:6379"}`, `{name: redisPassword, value: "x"}`))
			if st, msg := statusOf(rs, "pubsub"); st != StatusFail {
				t.Fatalf("BUD-5-03: status %q (%s), want fail", st, msg)
			}
		})
	}
}
