package discord

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"

	"github.com/bwmarrin/discordgo"

	"github.com/crowdflow/crowdflow/integrations"
)

// toMember makes the member of a Discord user. nick is the guild nickname,
// when known (the members listing has it; messages do not).
//
//   - Username is the Discord username, the identity (unique since the
//     2023 username change). Legacy deleted accounts are all called
//     "Deleted User": they become "Deleted User:<user id>" so that they do
//     not fold into one member.
//   - SourceID is the user id.
//   - DisplayName is the global display name, else the nickname, else the
//     username.
//   - Attributes: sourceId (the user id) and avatarUrl (only when the user
//     has an avatar of their own).
func toMember(u *discordgo.User, nick string) integrations.Member {
	username := u.Username
	deleted := strings.HasPrefix(username, "Deleted User")
	if deleted {
		username = "Deleted User:" + u.ID
	}
	display := u.GlobalName
	if display == "" {
		display = nick
	}
	if display == "" {
		display = u.Username
	}
	attrs := map[string]any{"sourceId": u.ID}
	if u.Avatar != "" {
		attrs["avatarUrl"] = "https://cdn.discordapp.com/avatars/" + u.ID + "/" + u.Avatar + ".png"
	}
	if deleted {
		attrs["isBot"] = true
	}
	return integrations.Member{
		Username:    username,
		SourceID:    u.ID,
		DisplayName: display,
		Attributes:  attrs,
	}
}

var mentionRE = regexp.MustCompile(`<@!?([0-9]+)>`)

// replaceMentions turns <@id> and <@!id> into @username, for the users the
// message's mentions list. Other mentions (unknown users, roles <@&id>,
// channels <#id>) are left as they are.
func replaceMentions(content string, mentions []*discordgo.User) string {
	if len(mentions) == 0 || !strings.Contains(content, "<@") {
		return content
	}
	names := make(map[string]string, len(mentions))
	for _, u := range mentions {
		if u != nil && u.ID != "" {
			names[u.ID] = u.Username
		}
	}
	return mentionRE.ReplaceAllStringFunc(content, func(tok string) string {
		id := mentionRE.FindStringSubmatch(tok)[1]
		if name, ok := names[id]; ok {
			return "@" + name
		}
		return tok
	})
}

// Postprocess implements integrations.Postprocessor. It records in the
// settings' channels list the readable channels whose history is now read
// in full, so that a later check run reads in full only channels that are
// new to the integration (the intended "unless the channel is new" of
// crowd.dev's check runs). A new channel with a stream left unfinished
// stays off the list, to be read in full again next time. Every other
// setting is returned as it was.
func (s *Service) Postprocess(ctx context.Context, run *integrations.RunContext, outcome integrations.RunOutcome) (json.RawMessage, error) {
	orig := run.Integration.Settings
	pd, err := decodePipeline(run)
	if err != nil {
		return orig, nil // Preprocess did not get far: nothing learnt
	}
	var fields map[string]json.RawMessage
	if len(orig) > 0 && string(orig) != "null" {
		if err := json.Unmarshal(orig, &fields); err != nil {
			return orig, nil
		}
	}
	if fields == nil {
		fields = map[string]json.RawMessage{}
	}
	var set Settings
	_ = json.Unmarshal(orig, &set)
	known := map[string]bool{}
	if set.Channels != nil {
		for _, c := range *set.Channels {
			known[c.ID] = true
		}
	}

	unfinished := map[string]bool{}
	for _, st := range outcome.Unfinished {
		switch st.Name {
		case streamChannel:
			var m channelMeta
			if st.DecodeMetadata(&m) == nil {
				unfinished[m.ID] = true
				if m.ParentID != "" {
					unfinished[m.ParentID] = true
				}
			}
		case streamThreads:
			var m threadListMeta
			if st.DecodeMetadata(&m) == nil {
				unfinished[m.ChannelID] = true
			}
		}
	}

	chans := make([]ChannelRef, 0, len(pd.Readable))
	for _, c := range pd.Readable {
		if unfinished[c.ID] && !known[c.ID] {
			continue
		}
		chans = append(chans, c)
	}
	b, err := json.Marshal(chans)
	if err != nil {
		return orig, nil
	}
	fields["channels"] = b
	return json.Marshal(fields)
}
