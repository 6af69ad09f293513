// Package alertmetrics holds the names of the metrics budnet's alerts read
// and audit's alert check accepts, as the components that export them
// publish them: generate writes its PrometheusRule from these names and
// audit's BUD-10.1-01 counts an alert only when its expression selects one,
// so the two cannot drift apart. It is a leaf package (no imports): the
// egress gateway's own names live beside the gateway that exports them, in
// internal/egress/metricnames, another leaf.
//
// Sources:
//   - Traefik (also as Gateway API implementation): traefik_service_requests_total
//     with labels code, method, protocol, service
//     (https://doc.traefik.io/traefik/observability/metrics/overview/);
//   - ingress-nginx: nginx_ingress_controller_requests with label status
//     (https://kubernetes.github.io/ingress-nginx/user-guide/monitoring/);
//   - Envoy-based Gateway API implementations: Envoy's cluster and HTTP
//     connection manager statistics in Prometheus form;
//   - Dapr (dapr/dapr docs/development/dapr-metrics.md): the sidecar's
//     dapr_runtime_mtls_init_fail_total and
//     dapr_runtime_mtls_workload_cert_rotated_fail_total, sentry's
//     dapr_sentry_cert_sign_failure_total, and the callee sidecar's
//     access-control counters dapr_runtime_acl_app_policy_action_blocked_total
//     and dapr_runtime_acl_global_policy_action_blocked_total (dapr v1.18.0
//     pkg/diagnostics/service_monitoring.go, views tagged app_id,
//     trustDomain and namespace of the CALLER). pkg/acl/acl.go
//     ApplyAccessControlPolicies counts every refusal in one of them, and
//     pkg/api/grpc/daprinternal.go callLocalValidateACL runs it for
//     CallLocal and CallLocalStream alike. The gRPC server metric
//     (dapr_grpc_io_server_completed_rpcs) does not see CallLocalStream,
//     the method HTTP service invocation uses: on the internal server the
//     stream interceptor (pkg/diagnostics/grpc_monitoring.go
//     StreamingClientInterceptor) records only proxied gRPC calls carrying
//     dapr-app-id metadata. generate's TestDaprAccessDeniedAlertReadsDaprSeries
//     feeds the alert the series Dapr's own code produced (hack/dapr-check);
//   - postgres_exporter pg_up and redis_exporter redis_up, 0 when the
//     exporter cannot connect (refused, or a failed TLS handshake, since the
//     exporter connects with the clients' sslmode); the MongoDB, MySQL and
//     Kafka exporters and the blackbox exporter likewise;
//   - cert-manager certmanager_certificate_ready_status and
//     certmanager_certificate_expiration_timestamp_seconds
//     (https://cert-manager.io/docs/devops-tips/prometheus-metrics/);
//   - cAdvisor, exported by the kubelet: per-pod network counters; Hubble's
//     flow counter.
package alertmetrics

// Ingress controllers and Gateway API implementations.
const (
	TraefikServiceRequests    = "traefik_service_requests_total"
	TraefikEntrypointRequests = "traefik_entrypoint_requests_total"
	TraefikRouterRequests     = "traefik_router_requests_total"
	NginxRequests             = "nginx_ingress_controller_requests"
	EnvoyUpstreamRequests     = "envoy_cluster_upstream_rq"
	EnvoyDownstreamRequestsXX = "envoy_http_downstream_rq_xx"
	EnvoyUpstreamRequestsXX   = "envoy_cluster_upstream_rq_xx"
)

// Dapr: the sidecar, sentry, and service invocation.
const (
	DaprMTLSInitFail              = "dapr_runtime_mtls_init_fail_total"
	DaprMTLSCertRotatedFail       = "dapr_runtime_mtls_workload_cert_rotated_fail_total"
	DaprSentryCertSignFailure     = "dapr_sentry_cert_sign_failure_total"
	DaprSentryServerCertIssueFail = "dapr_sentry_servercert_issue_failed_total"
	DaprHTTPServerRequests        = "dapr_http_server_request_count"
	DaprGRPCServerCompletedRPCs   = "dapr_grpc_io_server_completed_rpcs"
	DaprInvocationResponsesSent   = "dapr_runtime_service_invocation_res_sent_total"
	DaprInvocationResponsesRecv   = "dapr_runtime_service_invocation_res_recv_total"
	DaprACLAppPolicyBlocked       = "dapr_runtime_acl_app_policy_action_blocked_total"
	DaprACLGlobalPolicyBlocked    = "dapr_runtime_acl_global_policy_action_blocked_total"
)

// Database exporters and the blackbox exporter.
const (
	PostgresUp                 = "pg_up"
	RedisUp                    = "redis_up"
	MongoDBUp                  = "mongodb_up"
	MySQLUp                    = "mysql_up"
	KafkaBrokers               = "kafka_brokers"
	ProbeSuccess               = "probe_success"
	ProbeSSLEarliestCertExpiry = "probe_ssl_earliest_cert_expiry"
	RedisRejectedConnections   = "redis_rejected_connections_total"
	PostgresBackends           = "pg_stat_database_numbackends"
)

// cert-manager.
const (
	CertManagerCertificateReady  = "certmanager_certificate_ready_status"
	CertManagerCertificateExpiry = "certmanager_certificate_expiration_timestamp_seconds"
)

// Pod and flow counters.
const (
	PodTransmitBytes     = "container_network_transmit_bytes_total" // cAdvisor, exported by the kubelet
	HubbleFlowsProcessed = "hubble_flows_processed_total"
)
