package reach

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/budnet/budnet/internal/netpol"
	"github.com/budnet/budnet/internal/platform"
)

// bitnami returns the pod labels Bitnami's common.labels.standard gives a
// component of release "bud" (bitnami/charts bitnami/common/templates/_labels.tpl),
// with the component and part-of labels the chart's templates add.
func bitnami(chart, component string) map[string]string {
	l := map[string]string{
		"app.kubernetes.io/name": chart, "app.kubernetes.io/instance": "bud",
		"app.kubernetes.io/managed-by": "Helm", "helm.sh/chart": chart + "-1.0.0",
	}
	if component != "" {
		l["app.kubernetes.io/component"] = component
		l["app.kubernetes.io/part-of"] = chart
	}
	return l
}

func cand(ns string, labels map[string]string, ports ...int32) Candidate {
	cps := make([]netpol.ContainerPort, len(ports))
	for i, p := range ports {
		cps[i] = netpol.ContainerPort{Port: p, Protocol: corev1.ProtocolTCP}
	}
	return candidate(ns, labels, cps)
}

func modelWorkload(name, zone string, labels map[string]string, ports ...int32) *platform.Workload {
	mw := &platform.Workload{Name: name, Zone: zone, PodLabels: labels}
	for _, p := range ports {
		mw.Ports = append(mw.Ports, platform.NamedPort{Port: p})
	}
	return mw
}

// TestMatchWorkload covers the one matching rule: pod labels or Dapr app id,
// zone before elsewhere, and components of one chart installation told apart
// by the ports they serve and their component label. The chart cases are
// what the Bud chart's Bitnami subcharts render (bitnami/charts clickhouse
// 9.4.7, minio 17.0.23, keycloak 25.4.0).
func TestMatchWorkload(t *testing.T) {
	clickhouse := modelWorkload("clickhouse", "bud-data", map[string]string{"app.kubernetes.io/name": "clickhouse"}, 8123, 9000, 8443, 9440)
	minio := modelWorkload("minio", "bud-data", map[string]string{"app.kubernetes.io/name": "minio"}, 9000, 9001)
	keycloak := modelWorkload("keycloak", "bud-auth", map[string]string{"app.kubernetes.io/name": "keycloak"}, 8080, 8443)
	budapp := modelWorkload("budapp", "bud-system", map[string]string{"app.kubernetes.io/name": "budapp"}, 9081)
	budapp.Dapr = &platform.DaprApp{AppID: "budapp"}
	tests := []struct {
		name  string
		mw    *platform.Workload
		cands []Candidate
		want  []Match
	}{
		{
			name: "clickhouse keeper is not ClickHouse",
			mw:   clickhouse,
			cands: []Candidate{
				cand("bud", bitnami("clickhouse", "keeper"), 9181, 9234),
				cand("bud", bitnami("clickhouse", "clickhouse"), 8123, 9000, 9004, 9005, 9009),
			},
			want: []Match{{Index: 1, Tier: ByLabelsOutsideZone}},
		},
		{
			name: "every shard of ClickHouse is ClickHouse",
			mw:   clickhouse,
			cands: []Candidate{
				cand("bud-data", bitnami("clickhouse", "clickhouse"), 8123, 9000),
				cand("bud-data", bitnami("clickhouse", "keeper"), 9181, 9234),
				cand("bud-data", bitnami("clickhouse", "clickhouse"), 8123, 9000),
			},
			want: []Match{{Index: 0, Tier: ByLabels}, {Index: 2, Tier: ByLabels}},
		},
		{
			name: "minio console is not MinIO",
			mw:   minio,
			cands: []Candidate{
				cand("bud", bitnami("minio", "console"), 9090),
				cand("bud", bitnami("minio", "minio"), 9000),
			},
			want: []Match{{Index: 1, Tier: ByLabelsOutsideZone}},
		},
		{
			name: "a console serving a model port ties with the API; the component named after the model wins",
			mw:   minio,
			cands: []Candidate{
				cand("bud", bitnami("minio", "console"), 9001),
				cand("bud", bitnami("minio", "minio"), 9000),
			},
			want: []Match{{Index: 1, Tier: ByLabelsOutsideZone}},
		},
		{
			name: "keycloak's config job serves nothing and is not Keycloak",
			mw:   keycloak,
			cands: []Candidate{
				cand("bud", bitnami("keycloak", "keycloak-config-cli")),
				cand("bud", bitnami("keycloak", "keycloak"), 8080, 7800),
			},
			want: []Match{{Index: 1, Tier: ByLabelsOutsideZone}},
		},
		{
			name: "two installations are judged apart",
			mw:   clickhouse,
			cands: []Candidate{
				cand("bud", bitnami("clickhouse", "keeper"), 9181),
				cand("other", bitnami("clickhouse", "keeper"), 9181),
				cand("bud", bitnami("clickhouse", "clickhouse"), 8123),
			},
			want: []Match{{Index: 1, Tier: ByLabelsOutsideZone}, {Index: 2, Tier: ByLabelsOutsideZone}},
		},
		{
			name: "no ports declared anywhere: the component named after the model",
			mw:   clickhouse,
			cands: []Candidate{
				cand("bud", bitnami("clickhouse", "keeper")),
				cand("bud", bitnami("clickhouse", "clickhouse")),
			},
			want: []Match{{Index: 1, Tier: ByLabelsOutsideZone}},
		},
		{
			name: "components that cannot be told apart are all kept",
			mw:   clickhouse,
			cands: []Candidate{
				cand("bud", bitnami("clickhouse", "a")),
				cand("bud", bitnami("clickhouse", "b")),
			},
			want: []Match{{Index: 0, Tier: ByLabelsOutsideZone}, {Index: 1, Tier: ByLabelsOutsideZone}},
		},
		{
			name:  "no component labels: labels alone decide",
			mw:    clickhouse,
			cands: []Candidate{cand("bud-data", map[string]string{"app.kubernetes.io/name": "clickhouse"}, 9181)},
			want:  []Match{{Index: 0, Tier: ByLabels}},
		},
		{
			name: "look-alike labels do not match",
			mw:   clickhouse,
			cands: []Candidate{
				cand("bud-data", map[string]string{"app.kubernetes.io/name": "clickhouse-operator"}, 8123),
				cand("bud-data", map[string]string{"app": "clickhouse"}, 8123),
			},
		},
		{
			name: "Dapr app id, in the zone before labels elsewhere",
			mw:   budapp,
			cands: []Candidate{
				cand("bud", map[string]string{"app.kubernetes.io/name": "budapp"}, 9081),
				cand("bud-system", map[string]string{"app": "bud-budapp", "dapr.io/app-id": "budapp"}, 9082),
				cand("bud", map[string]string{"app": "bud-budapp", "dapr.io/app-id": "budapp"}, 9082),
			},
			want: []Match{{Index: 1, Tier: ByAppID}, {Index: 0, Tier: ByLabelsOutsideZone}, {Index: 2, Tier: ByAppIDOutsideZone}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := MatchWorkload(tt.mw, tt.cands)
			if !slices.Equal(got, tt.want) {
				t.Errorf("MatchWorkload = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestBestTier(t *testing.T) {
	ms := []Match{{Index: 3, Tier: ByAppID}, {Index: 1, Tier: ByAppID}, {Index: 0, Tier: ByLabelsOutsideZone}}
	if got := BestTier(ms); !slices.Equal(got, ms[:2]) {
		t.Errorf("BestTier = %+v", got)
	}
	if got := BestTier(nil); got != nil {
		t.Errorf("BestTier(nil) = %+v", got)
	}
}

// TestDrift covers intended ports the destination does not declare: blocked
// there, they are one Drift entry of the model workload instead of a broken
// flow per caller; allowed, or at a workload that declares no ports at all
// (what it serves is unknown), they are judged as before.
func TestDrift(t *testing.T) {
	base := readFile(t, "testdata/shop-base.yaml")
	policies := readFile(t, "testdata/shop-policies.yaml")
	var withoutAllow []string
	for _, doc := range strings.Split(policies, "\n---\n") {
		if !strings.Contains(doc, "name: allow-api-to-postgresql,") {
			withoutAllow = append(withoutAllow, doc)
		}
	}
	const declared = "ports: [{name: tcp-postgresql, containerPort: 5432}]"
	servesOther := strings.Replace(base, declared, "ports: [{name: tcp-postgresql, containerPort: 5433}]", 1)
	servesNothing := strings.Replace(base, declared, "ports: []", 1)
	if servesOther == base || servesNothing == base {
		t.Fatal("testdata/shop-base.yaml no longer declares PostgreSQL's port as this test expects")
	}
	tests := []struct {
		name       string
		docs       []string
		wantBroken []string
		wantDrift  []string
	}{
		{
			name:      "blocked on a port the workload does not declare: drift, not broken",
			docs:      []string{servesOther, strings.Join(withoutAllow, "\n---\n"), publicEgressPolicy()},
			wantDrift: []string{"shop-data/postgresql: TCP/5432 (flow api-to-postgresql), 1 connection, serves TCP/5433"},
		},
		{
			name: "allowed on a port the workload does not declare: nothing to report",
			docs: []string{servesOther, strings.Replace(policies, "ports: [{port: tcp-postgresql}]", "ports: [{port: 5432}]", 1), publicEgressPolicy()},
		},
		{
			name:       "blocked on a declared port: broken",
			docs:       []string{base, strings.Join(withoutAllow, "\n---\n"), publicEgressPolicy()},
			wantBroken: []string{"shop/api[Deployment] => shop-data/postgresql[StatefulSet] : TCP/5432"},
		},
		{
			name:       "a workload declaring no ports may serve any: broken",
			docs:       []string{servesNothing, strings.Join(withoutAllow, "\n---\n"), publicEgressPolicy()},
			wantBroken: []string{"shop/api[Deployment] => shop-data/postgresql[StatefulSet] : TCP/5432"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := compare(t, load(t, tt.docs...), shopModel)
			if got := render(d.Broken); !slices.Equal(got, tt.wantBroken) {
				t.Errorf("broken %q, want %q", got, tt.wantBroken)
			}
			var drift []string
			for _, dr := range d.Drift {
				drift = append(drift, fmt.Sprintf("%s: %s (flow %s), %d connection, serves %s", dr.Model, dr.Ports, strings.Join(dr.Flows, ","), dr.Connections, dr.Serves))
				if !slices.ContainsFunc(d.Notes, func(n string) bool { return n == dr.String() }) {
					t.Errorf("drift %s is not in the notes %q", dr.Model, d.Notes)
				}
			}
			if !slices.Equal(drift, tt.wantDrift) {
				t.Errorf("drift %q, want %q", drift, tt.wantDrift)
			}
		})
	}
}
