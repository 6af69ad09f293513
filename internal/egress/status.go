package egress

import (
	"net/http"

	"github.com/budnet/budnet/internal/egress/verdict"
)

func statusFor(r verdict.Reason) int {
	switch r {
	case verdict.ReasonBadRequest, verdict.ReasonInvalidHost, verdict.ReasonHostMismatch:
		return http.StatusBadRequest
	case verdict.ReasonMethodNotAllowed:
		return http.StatusMethodNotAllowed
	case verdict.ReasonHeaderTooLarge:
		return http.StatusRequestHeaderFieldsTooLarge
	case verdict.ReasonHeaderTimeout:
		return http.StatusRequestTimeout
	case verdict.ReasonTooManyTunnels:
		return http.StatusServiceUnavailable
	case verdict.ReasonTooManyFromSource, verdict.ReasonTooManyFromAddress:
		return http.StatusTooManyRequests
	case verdict.ReasonResolveFailed, verdict.ReasonDialFailed, verdict.ReasonUpstreamProtocol:
		return http.StatusBadGateway
	}
	return http.StatusForbidden
}

func statusText(code int) string { return http.StatusText(code) }
