#!/usr/bin/env bash
# Refetches the pinned CRDs in internal/crds/ from the projects' Go
# modules (through the Go module proxy, the only source reachable here) and
# rewrites crds/VERSIONS.md. Change a version below, run this, then
# `go test ./internal/kubetest/` to check the CRDs still install.
#
# Only the kinds budnet generates or audits are copied, to keep the repo small.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out=$root/internal/crds

# project|module@version|directory in the module|files (space separated)
sources=(
	"cert-manager|github.com/cert-manager/cert-manager@v1.21.2|deploy/crds|cert-manager.io_certificates.yaml cert-manager.io_certificaterequests.yaml cert-manager.io_clusterissuers.yaml cert-manager.io_issuers.yaml"
	"dapr|github.com/dapr/dapr@v1.18.0|charts/dapr/crds|components.yaml configuration.yaml httpendpoints.yaml resiliency.yaml subscription.yaml"
	"gateway-api|sigs.k8s.io/gateway-api@v1.6.3|config/crd/standard|gateway.networking.k8s.io_gatewayclasses.yaml gateway.networking.k8s.io_gateways.yaml gateway.networking.k8s.io_httproutes.yaml gateway.networking.k8s.io_referencegrants.yaml gateway.networking.k8s.io_backendtlspolicies.yaml"
	"traefik|github.com/traefik/traefik/v3@v3.7.13|docs/content/reference/dynamic-configuration|kubernetes-crd-definition-v1.yml"
	"cilium|github.com/cilium/cilium@v1.20.2|pkg/k8s/apis/cilium.io/client/crds/v2|ciliumnetworkpolicies.yaml ciliumclusterwidenetworkpolicies.yaml ciliumegressgatewaypolicies.yaml"
	"prometheus-operator|github.com/prometheus-operator/prometheus-operator@v0.85.0|example/prometheus-operator-crd|monitoring.coreos.com_prometheusrules.yaml monitoring.coreos.com_servicemonitors.yaml monitoring.coreos.com_podmonitors.yaml"
	"network-policy-api|sigs.k8s.io/network-policy-api@v0.3.1|config/crd/experimental|policy.networking.k8s.io_clusternetworkpolicies.yaml"
	"network-policy-api|sigs.k8s.io/network-policy-api@v0.1.7|config/crd/experimental|policy.networking.k8s.io_adminnetworkpolicies.yaml policy.networking.k8s.io_baselineadminnetworkpolicies.yaml"
)

# Run outside the budnet module so nothing is added to its go.mod.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

versions=$out/VERSIONS.md
declare -A cleared
mkdir -p "$out"
{
	echo "# Pinned CRDs"
	echo
	echo "Written by hack/update-crds.sh; do not edit by hand. Each file is copied unchanged"
	echo "from the module zip the Go module proxy serves for module@version."
	echo
	echo "| directory | module@version | path in the module | files |"
	echo "|---|---|---|---|"
} >"$versions"

for entry in "${sources[@]}"; do
	IFS='|' read -r project modver dir files <<<"$entry"
	echo "update-crds: $modver" >&2
	moddir=$(cd "$scratch" && GOFLAGS=-mod=mod go mod download -json "$modver" |
		sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	[ -n "$moddir" ] || { echo "update-crds: no module directory for $modver" >&2; exit 1; }
	# A project may take files from two versions of one module (one
	# directory per API group): clear its directory once.
	if [[ -z ${cleared[$project]:-} ]]; then
		rm -rf "${out:?}/$project"
		cleared[$project]=1
	fi
	mkdir -p "$out/$project"
	for f in $files; do
		install -m 0644 "$moddir/$dir/$f" "$out/$project/$f"
	done
	echo "| $project | $modver | $dir | ${files// /, } |" >>"$versions"
done

cat >>"$versions" <<'NOTES'

Why these versions (the newest each project released that the Go module proxy serves here):

- gateway-api v1.6.3, not v1.7.0: v1.7.0's go.mod needs Go 1.27, and the go command
  refuses even to download it with Go 1.26 (GOTOOLCHAIN=local).
- prometheus-operator v0.85.0: the newest version of the root module the proxy serves
  (its pkg/apis/monitoring submodule is newer, but the CRD files live in the root module).
  The monitoring.coreos.com/v1 kinds used here are stable across those releases.
- traefik: the reference file holds all Traefik CRDs in one document stream; it is kept
  whole so IngressRoute references to TraefikService and ServersTransport resolve.
- network-policy-api: ClusterNetworkPolicy from v0.3.1 (serves v1alpha2 and v1beta1);
  AdminNetworkPolicy and BaselineAdminNetworkPolicy (v1alpha1) from v0.1.7, the last
  release that ships them and what several CNIs still serve. The experimental channel,
  which has the fields the engine evaluates (namedPort, nodes, domainNames).
NOTES
