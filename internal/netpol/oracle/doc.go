// Package oracle holds only tests: differential tests of the netpol engine
// against independent NetworkPolicy implementations (cyclonus and
// kube-network-policies). They live apart from package netpol so that the
// engine's own test binary, and its fuzzing build, stay free of those
// implementations' dependencies.
package oracle
