package slack

import "github.com/crowdflow/crowdflow/integrations"

// SettingsForm implements integrations.SettingsFormer: Slack needs no
// settings to connect (the channels the bot is in are found by the run),
// only the bot token.
func (s *Service) SettingsForm() integrations.SettingsForm {
	return integrations.SettingsForm{
		TokenLabel: "Bot token",
		TokenHelp:  "The workspace's bot token (xoxb-...); the bot reads the channels it is a member of.",
	}
}
