// Package example embeds the unhardened Bud AI Foundry deployment that every
// --example flag analyses: everything in one namespace behind Traefik, Dapr
// services, Bitnami data stores with their permissive NetworkPolicies,
// credentials and plaintext endpoints in environment variables, and no
// platform-wide default deny. The file's comments say which real chart each
// part imitates.
package example

import _ "embed"

//go:embed bud-unhardened.yaml
var unhardened []byte

// UnhardenedName is the file name sources and errors cite for the example.
const UnhardenedName = "example/bud-unhardened.yaml"

// Unhardened returns the example's name, for file:line evidence, and a copy
// of its content, so callers cannot alter the embedded bytes.
func Unhardened() (name string, data []byte) {
	return UnhardenedName, append([]byte(nil), unhardened...)
}
