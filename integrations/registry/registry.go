// Package registry lists every built-in integration service, the way the
// seed's IntegrationProcessor constructor did. Adding a platform means adding
// one line to Default.
package registry

import (
	"fmt"
	"sort"

	"github.com/crowdflow/crowdflow/integrations"
)

// Registry maps a platform name to its service.
type Registry struct {
	services map[string]integrations.Service
}

// New builds a registry of the given services. It panics on a duplicate
// platform: that is a wiring bug, found at start-up.
func New(services ...integrations.Service) *Registry {
	r := &Registry{services: make(map[string]integrations.Service, len(services))}
	for _, s := range services {
		if _, dup := r.services[s.Platform()]; dup {
			panic(fmt.Sprintf("registry: platform %q registered twice", s.Platform()))
		}
		r.services[s.Platform()] = s
	}
	return r
}

// Get returns the service of a platform.
func (r *Registry) Get(platform string) (integrations.Service, bool) {
	s, ok := r.services[platform]
	return s, ok
}

// Platforms returns the registered platform names, sorted.
func (r *Registry) Platforms() []string {
	out := make([]string, 0, len(r.services))
	for p := range r.services {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// Default returns every built-in service, each pointed at the API base URL
// its environment variable gives (DEVTO_API_URL, SLACK_API_URL, ...) or at
// the real API.
func Default() *Registry {
	return New(
		builtins()...,
	)
}
