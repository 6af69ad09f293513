package netpol_test

import (
	"encoding/json"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/yaml"

	"github.com/budnet/budnet/internal/netpol"
)

// FuzzPolicy decodes arbitrary bytes as a NetworkPolicy (JSON), adds it to the
// fixture cluster and checks that New either rejects it or yields an engine
// whose matrix agrees with Evaluate, without panicking. Seeds are the policies
// of testdata/explain-policies.yaml plus testdata/fuzz/FuzzPolicy.
func FuzzPolicy(f *testing.F) {
	raw, err := os.ReadFile(filepath.Join("testdata", "explain-policies.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	for _, doc := range strings.Split(string(raw), "\n---\n") {
		j, err := yaml.YAMLToJSON([]byte(doc))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(j)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		np := &networkingv1.NetworkPolicy{}
		if err := json.Unmarshal(data, np); err != nil {
			return
		}
		c := fixtureCluster()
		c.Policies = []*networkingv1.NetworkPolicy{np}
		h := fnv.New64a()
		h.Write(data)
		seed := h.Sum64()
		e, err := netpol.New(c, netpol.Options{IPBlockMatchesPods: seed%2 == 1})
		if err != nil {
			return
		}
		m := e.Matrix()
		checkMatrix(t, c, e, m, 60, rand.New(rand.NewPCG(seed, 0)))
	})
}
