// Package ext stands in for github.com/traefik/traefik/dynamic/ext, a
// nested module of the Traefik repository (pkg/config/dynamic/ext) that
// traefik/v3's go.mod reaches through a relative replace: the module zip
// of traefik/v3 leaves nested modules out and the module proxy does not
// serve it. Traefik's open-source tree defines these extension points as
// empty structs (inlined into dynamic.HTTP and dynamic.Router), as here.
package ext

// HTTP is a dynamic.HTTP extension.
type HTTP struct{}

// Router is a dynamic.Router extension.
type Router struct{}

// RouterIng is a RouterIng extension for ingress provider annotations.
type RouterIng struct{}

// ToRouter converts RouterIng to a Router.
func (r RouterIng) ToRouter() Router {
	return Router{}
}
