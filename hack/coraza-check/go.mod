// Helper module loading budnet's generated Coraza directives into the Coraza
// engine and OWASP Core Rule Set that the Traefik plugin
// github.com/jcchavezs/coraza-http-wasm-traefik v0.2.2 embeds (its
// coraza-http-wasm v0.2.2 go.mod pins coraza/v3 v3.1.0 and
// coraza-coreruleset/v4 v4.0.0). Kept out of budnet's go.mod: the nested
// go.mod makes this directory its own module.
module budnet/hack/coraza-check

go 1.26.0

require (
	github.com/corazawaf/coraza-coreruleset/v4 v4.0.0
	github.com/corazawaf/coraza/v3 v3.1.0
	github.com/tidwall/gjson v1.17.1
	k8s.io/apimachinery v0.37.2
	sigs.k8s.io/yaml v1.6.0
)

require (
	github.com/corazawaf/libinjection-go v0.1.3 // indirect
	github.com/magefile/mage v1.15.0 // indirect
	github.com/petar-dambovaliev/aho-corasick v0.0.0-20230725210150-fb29fc3c913e // indirect
	github.com/tidwall/match v1.1.1 // indirect
	github.com/tidwall/pretty v1.2.1 // indirect
	go.yaml.in/yaml/v2 v2.4.4 // indirect
	golang.org/x/net v0.57.0 // indirect
	golang.org/x/sync v0.6.0 // indirect
	rsc.io/binaryregexp v0.2.0 // indirect
	sigs.k8s.io/json v0.0.0-20250730193827-2d320260d730 // indirect
)
