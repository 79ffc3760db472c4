package registry

import (
	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/integrations/devto"
	"github.com/crowdflow/crowdflow/integrations/discord"
	"github.com/crowdflow/crowdflow/integrations/github"
	"github.com/crowdflow/crowdflow/integrations/slack"
	"github.com/crowdflow/crowdflow/integrations/twitter"
	"github.com/crowdflow/crowdflow/integrations/twitterreach"
)

// builtins is the one list of built-in services. Keep it sorted by platform.
func builtins() []integrations.Service {
	return []integrations.Service{
		devto.New(devto.FromEnv()),
		discord.New(discord.FromEnv()),
		github.New(github.FromEnv()),
		slack.New(slack.FromEnv()),
		twitter.New(twitter.FromEnv()),
		twitterreach.New(twitter.FromEnv()),
	}
}
