package audit

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/budnet/budnet/internal/manifest"
)

// Guide section 6.3 and checklist 11.2 ("connection strings support TLS,
// verify server configuration"): the data stores the guide's table leaves
// out (Kafka, MongoDB) and the server side of PostgreSQL, judged from the
// same resolved environments as BUD-6.3-01..04 (check_env.go).

// perSourceCheck reports a key several containers read once (perSource).
func perSourceCheck(ch Check) Check {
	run := ch.Run
	ch.Run = func(c *Context) []Result { return perSource(run(c)) }
	return ch
}

func checkKafkaTLS() Check {
	return perSourceCheck(dbCheck("BUD-6.3-05", "Kafka listeners and clients use TLS",
		"Map every listener to SSL or SASL_SSL (Bitnami: KAFKA_CFG_LISTENER_SECURITY_PROTOCOL_MAP, or the chart's listeners.*.protocol and tls.* values) and give clients security.protocol SASL_SSL with the CA; PLAINTEXT and SASL_PLAINTEXT send messages and SASL passwords in the clear.",
		judgeKafka))
}

// kafkaKey normalises a Kafka setting's name from any of its spellings
// (listener.security.protocol.map, KAFKA_CFG_LISTENER_SECURITY_PROTOCOL_MAP,
// SPRING_KAFKA_PROPERTIES_SECURITY_PROTOCOL, KAFKA_SECURITY_PROTOCOL) to
// the property with underscores: LISTENER_SECURITY_PROTOCOL_MAP.
func kafkaKey(name string) string {
	k := strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(name))
	for _, p := range []string{"SPRING_KAFKA_PROPERTIES_", "SPRING_KAFKA_", "KAFKA_CFG_", "KAFKA_"} {
		if rest, ok := strings.CutPrefix(k, p); ok {
			return rest
		}
	}
	return k
}

// plaintextProtocols are Kafka's security protocols without TLS
// (org.apache.kafka.common.security.auth.SecurityProtocol).
var plaintextProtocols = []string{"PLAINTEXT", "SASL_PLAINTEXT"}

// kafkaSettings lists the settings of s that speak about Kafka: variables
// whose name says so, and the lines of a .properties file held in one value
// (a ConfigMap key server.properties or client.properties), each keeping the
// variable's evidence.
func kafkaSettings(s *envSet) []setting {
	var out []setting
	for _, name := range s.order {
		v := s.vars[name]
		if strings.Contains(v.value, "\n") && strings.Contains(strings.ToLower(name), "properties") {
			for _, line := range strings.Split(v.value, "\n") {
				line = strings.TrimSpace(line)
				if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "!") {
					continue
				}
				k, val, ok := strings.Cut(line, "=")
				if !ok {
					k, val, ok = strings.Cut(line, ":")
				}
				if ok {
					out = append(out, setting{name: strings.TrimSpace(k), value: strings.TrimSpace(val), ev: v.ev})
				}
			}
			continue
		}
		out = append(out, v)
	}
	return out
}

func judgeKafka(s *envSet) []Result {
	var out []Result
	protoMap, bootstrap := false, []setting{}
	var secProto *setting
	settings := kafkaSettings(s)
	for i, v := range settings {
		un := strings.ToUpper(v.name)
		key := kafkaKey(v.name)
		switch {
		case key == "LISTENER_SECURITY_PROTOCOL_MAP" && (strings.Contains(un, "KAFKA") || strings.Contains(v.name, ".")):
			protoMap = true
			out = append(out, kafkaListenerMap(s, v))
		case key == "SECURITY_PROTOCOL" && (strings.Contains(un, "KAFKA") || strings.Contains(v.name, ".")):
			secProto = &settings[i]
		case strings.Contains(un, "KAFKA") && (strings.HasSuffix(key, "BOOTSTRAP_SERVERS") || strings.HasSuffix(key, "BROKERS") || strings.HasSuffix(key, "BROKER_LIST")),
			key == "BOOTSTRAP_SERVERS" && strings.Contains(v.name, "."):
			bootstrap = append(bootstrap, v)
		}
	}
	if !protoMap {
		// Without a protocol map, listener names are the protocols (PLAINTEXT://:9092).
		for _, v := range settings {
			if kafkaKey(v.name) == "LISTENERS" && (strings.Contains(strings.ToUpper(v.name), "KAFKA") || strings.Contains(v.name, ".")) {
				out = append(out, kafkaListenerMap(s, setting{name: v.name, value: listenersAsMap(v.value), ev: v.ev}))
			}
		}
	}
	if secProto != nil {
		p := strings.ToUpper(strings.TrimSpace(secProto.value))
		if slices.Contains(plaintextProtocols, p) {
			out = append(out, s.finding(StatusFail, *secProto, "security.protocol "+p+": the client sends messages and credentials in plaintext"))
		} else {
			out = append(out, s.finding(StatusPass, *secProto, "security.protocol "+p))
		}
		return out
	}
	for _, v := range bootstrap {
		out = append(out, kafkaBootstrap(s, v))
	}
	return out
}

// listenersAsMap turns "PLAINTEXT://:9092,SSL://:9093" into "PLAINTEXT:PLAINTEXT,SSL:SSL".
func listenersAsMap(v string) string {
	var parts []string
	for _, l := range splitList(v) {
		name, _, _ := strings.Cut(l, "://")
		parts = append(parts, name+":"+name)
	}
	return strings.Join(parts, ",")
}

func kafkaListenerMap(s *envSet, v setting) Result {
	var plain, tls []string
	for _, pair := range splitList(v.value) {
		name, proto, ok := strings.Cut(pair, ":")
		if !ok {
			continue
		}
		proto = strings.ToUpper(strings.TrimSpace(proto))
		if slices.Contains(plaintextProtocols, proto) {
			plain = append(plain, strings.TrimSpace(name)+"="+proto)
		} else {
			tls = append(tls, strings.TrimSpace(name)+"="+proto)
		}
	}
	switch {
	case len(plain) > 0:
		return s.finding(StatusFail, v, "Kafka listeners without TLS: "+strings.Join(plain, ", "))
	case len(tls) == 0:
		return s.finding(StatusFail, v, "no listener protocol could be read: not judged as TLS")
	}
	return s.finding(StatusPass, v, "every listener uses TLS: "+strings.Join(tls, ", "))
}

// kafkaBootstrap judges bootstrap servers given without security.protocol:
// Kafka clients default to PLAINTEXT unless the address names SSL.
func kafkaBootstrap(s *envSet, v setting) Result {
	var plain []string
	for _, b := range splitList(v.value) {
		proto, _, ok := strings.Cut(b, "://")
		if ok && slices.Contains([]string{"SSL", "SASL_SSL"}, strings.ToUpper(proto)) {
			continue
		}
		plain = append(plain, b)
	}
	if len(plain) == 0 {
		return s.finding(StatusPass, v, "bootstrap servers over SSL")
	}
	return s.finding(StatusFail, v, "Kafka bootstrap servers without security.protocol: clients default to PLAINTEXT ("+listing(plain, 3)+")")
}

func checkMongoTLS() Check {
	return perSourceCheck(dbCheck("BUD-6.3-06", "MongoDB clients use TLS and verify it",
		"Add tls=true to every mongodb:// URI (mongodb+srv:// turns it on by default) with tlsCAFile, and serve MongoDB with --tlsMode requireTLS; never tlsInsecure or tlsAllowInvalidCertificates.",
		judgeMongo))
}

var mongoURL = regexp.MustCompile(`(?i)^mongodb(\+srv)?://`)

func judgeMongo(s *envSet) []Result {
	var out []Result
	decided := false
	for _, name := range s.order {
		v := s.vars[name]
		un := strings.ToUpper(name)
		switch {
		case mongoURL.MatchString(strings.TrimSpace(v.value)):
			decided = true
			out = append(out, mongoURI(s, v))
		case strings.Contains(un, "MONGO") && (strings.HasSuffix(un, "_TLS") || strings.HasSuffix(un, "_SSL") || strings.HasSuffix(un, "TLS_ENABLED") || strings.HasSuffix(un, "USE_TLS") || strings.HasSuffix(un, "USE_SSL")):
			decided = true
			if truthy(v.value) {
				out = append(out, s.finding(StatusPass, v, "TLS on"))
			} else {
				out = append(out, s.finding(StatusFail, v, "TLS off: queries and credentials travel in plaintext"))
			}
		}
	}
	if decided {
		return out
	}
	return undecidedHosts(s, "MONGO", "MongoDB host without a TLS setting or URI: drivers connect in plaintext by default")
}

// mongoURI reads the URI options, whose names are case-insensitive
// (https://www.mongodb.com/docs/manual/reference/connection-string-options/#tls-options).
func mongoURI(s *envSet, v setting) Result {
	raw := strings.TrimSpace(v.value)
	q := url.Values{}
	if _, query, ok := strings.Cut(raw, "?"); ok {
		parsed, err := url.ParseQuery(query)
		if err != nil {
			return s.finding(StatusFail, v, "unparsable MongoDB URI options: "+err.Error())
		}
		for k, vs := range parsed {
			q[strings.ToLower(k)] = vs
		}
	}
	srv := strings.HasPrefix(strings.ToLower(raw), "mongodb+srv://")
	tls := q.Get("tls")
	if tls == "" {
		tls = q.Get("ssl")
	}
	on := truthy(tls) || (srv && tls == "")
	switch {
	case !on && srv:
		return s.finding(StatusFail, v, "mongodb+srv:// with tls="+tls+": TLS switched off")
	case !on:
		return s.finding(StatusFail, v, "mongodb:// without tls=true: the driver connects in plaintext")
	}
	for _, k := range []string{"tlsinsecure", "tlsallowinvalidcertificates", "tlsallowinvalidhostnames", "tlsdisableocspendpointcheck"} {
		if truthy(q.Get(k)) {
			return s.finding(StatusPartial, v, fmt.Sprintf("TLS with %s=true: the server's certificate is not fully verified", k))
		}
	}
	return s.finding(StatusPass, v, "TLS connection")
}

func checkPostgresServerTLS() Check {
	return Check{
		ID: "BUD-6.3-07", Title: "PostgreSQL servers serve TLS", Section: "6.3", Severity: SeverityHigh,
		Remediation: "Turn TLS on in the server (Bitnami: tls.enabled with a cert-manager certificate, which sets POSTGRESQL_ENABLE_TLS=yes and POSTGRESQL_TLS_CERT_FILE; the official image: -c ssl=on with ssl_cert_file) and accept only hostssl in pg_hba; a client's sslmode cannot help a server without TLS.",
		Doc:         docOf("BUD-6.3-07"),
		Run: func(c *Context) []Result {
			sets := envSetsBySubject(c.Inventory)
			var out []Result
			for _, w := range c.Inventory.Workloads {
				// Jobs and CronJobs with a PostgreSQL image run its
				// clients (pg_dump, psql), not a server.
				if w.Kind == "Job" || w.Kind == "CronJob" {
					continue
				}
				for _, ct := range w.Containers {
					if ct.Inferred || !postgresImage.MatchString(ct.Image) || pgClientCommand.MatchString(strings.Join(ctArgs(w, ct), " ")) {
						continue
					}
					s := sets[w.Ref()+" container "+ct.Name]
					if s == nil {
						continue
					}
					out = append(out, postgresServer(w, ct, s))
				}
			}
			return out
		},
	}
}

// postgresImage matches PostgreSQL server images (bitnami/postgresql,
// postgres, postgresql-repmgr), not exporters, poolers or clients.
// pgClientCommand matches a container that runs a PostgreSQL client tool.
var pgClientCommand = regexp.MustCompile(`\b(pg_dump|pg_dumpall|pg_restore|psql|pg_basebackup|pg_isready|pgbench)\b`)

var sslArg = regexp.MustCompile(`(?i)\bssl\s*=\s*(\S+)`)

var postgresImage = regexp.MustCompile(`(?i)(^|/)(postgres|postgresql|postgresql-repmgr)(:|@|$)`)

func postgresServer(w *manifest.Workload, ct manifest.Container, s *envSet) Result {
	subject := w.Ref() + " container " + ct.Name
	if v, ok := s.get("POSTGRESQL_ENABLE_TLS"); ok {
		// Bitnami's libpostgresql reads it with is_boolean_yes (1, yes, true).
		if truthy(v.value) {
			if _, cert := s.get("POSTGRESQL_TLS_CERT_FILE"); !cert {
				return s.finding(StatusFail, v, "POSTGRESQL_ENABLE_TLS is on but POSTGRESQL_TLS_CERT_FILE is not set: the server cannot start TLS")
			}
			return s.finding(StatusPass, v, "the server serves TLS")
		}
		return s.finding(StatusFail, v, "TLS is off in the server: every client connection, password included, is plaintext")
	}
	args := strings.Join(ctArgs(w, ct), " ")
	if m := sslArg.FindStringSubmatch(args); m != nil {
		ev := ObjectEvidence(w.Object, ct.Path+".args", "ssl="+m[1])
		if truthy(m[1]) {
			return res(StatusPass, subject, "the server starts with ssl="+m[1], ev)
		}
		return res(StatusFail, subject, "the server starts with ssl="+m[1], ev)
	}
	what := "PostgreSQL's ssl defaults to off"
	if strings.Contains(strings.ToLower(ct.Image), "bitnami") {
		what = "Bitnami's POSTGRESQL_ENABLE_TLS defaults to no"
	}
	return res(StatusFail, subject, what+" and nothing turns it on: the server speaks plaintext",
		ObjectEvidence(w.Object, ct.Path+".env", "no POSTGRESQL_ENABLE_TLS or ssl=on"))
}

// ctArgs returns the container's command and arguments as written in the pod spec.
func ctArgs(w *manifest.Workload, ct manifest.Container) []string {
	if w.PodSpec == nil {
		return nil
	}
	for _, c := range w.PodSpec.Containers {
		if c.Name == ct.Name {
			return append(append([]string(nil), c.Command...), c.Args...)
		}
	}
	return nil
}
