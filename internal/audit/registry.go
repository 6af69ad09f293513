package audit

// Checks returns every check, in the order the guide presents its sections.
// IDs are stable: never reuse or renumber one; docs/checks.md is generated
// from this list (go test ./internal/audit -run TestChecksDoc -update).
func Checks() []Check {
	return []Check{
		checkZonesExist(),
		checkWorkloadZones(),
		checkDataStoreNamespaces(),
		checkNothingInDefault(),
		checkDefaultDeny(),
		checkPoliciesSelectPods(),
		checkNamespaceSelectors(),
		checkDNSReachable(),
		checkDaprPorts(),
		checkExposedServices(),
		checkAdminAllowlist(),
		checkRouteTLS(),
		checkOverPermissive(),
		checkBroken(),
		checkEgressOpen(),
		checkDaprMTLS(),
		checkDaprAccessControl(),
		checkDaprRedisTLS(),
		checkIssuer(),
		checkCertManaged(),
		checkCertExpiry(),
		checkEdgeMinTLS(),
		checkPostgresTLS(),
		checkClickHouseTLS(),
		checkRedisTLS(),
		checkObjectStoreTLS(),
		checkKafkaTLS(),
		checkMongoTLS(),
		checkPostgresServerTLS(),
		checkRedirect(),
		checkSecurityHeaders(),
		checkRateLimit(),
		checkBodyLimit(),
		checkWAF(),
		checkEgressAllowlist(),
		checkKubeconfigs(),
		checkDaprPubSubTLS(),
		checkDaprComponentSecrets(),
		checkAlerts(),
	}
}
