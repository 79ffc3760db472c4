package registry

import (
	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/integrations/devto"
)

// builtins is the one list of built-in services. Keep it sorted by platform.
func builtins() []integrations.Service {
	return []integrations.Service{
		devto.New(devto.FromEnv()),
	}
}
