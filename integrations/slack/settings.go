package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/crowdflow/crowdflow/integrations"
)

// Setting keys.
const (
	settingChannels    = "channels"
	settingCheckWindow = "checkWindowSeconds"
)

// channelSetting is one entry of settings.channels, as crowd.dev stored it.
type channelSetting struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	General bool   `json:"general"`
}

// settings is what the service reads from the integration's settings.
// Other keys (updateMemberAttributes, ...) are kept as they are.
type settings struct {
	Channels           []channelSetting `json:"channels"`
	CheckWindowSeconds int64            `json:"checkWindowSeconds"`
}

// readSettings reads the settings leniently: at run time a bad value
// falls back to its default (ValidateSettings is where users hear of it).
func readSettings(raw json.RawMessage) settings {
	var s settings
	if err := json.Unmarshal(raw, &s); err != nil {
		// Read what can be read, field by field.
		var obj map[string]json.RawMessage
		if json.Unmarshal(raw, &obj) == nil {
			_ = json.Unmarshal(obj[settingChannels], &s.Channels)
			_ = json.Unmarshal(obj[settingCheckWindow], &s.CheckWindowSeconds)
		}
	}
	return s
}

// checkWindow is how far back from the run's start a check run reads known
// channels and threads.
func checkWindow(run *integrations.RunContext) time.Duration {
	secs := readSettings(run.Integration.Settings).CheckWindowSeconds
	if secs <= 0 || secs > int64(maxCheckWindow/time.Second) {
		return DefaultCheckWindow
	}
	return time.Duration(secs) * time.Second
}

func windowStart(run *integrations.RunContext) time.Time {
	return run.StartedAt.Add(-checkWindow(run))
}

// threadWindowStart is how far back a check run pages a known channel's
// history: conversations.history lists parents with their latest_reply,
// and only there can a new reply to an old thread be seen (Slack lists
// replies in the channel only when also sent to it). A thread whose parent
// is older than this is not looked at again: that is the bound on the cost
// of a check run (history pages for ThreadWindow of top-level messages per
// channel).
func threadWindowStart(run *integrations.RunContext) time.Time {
	return run.StartedAt.Add(-max(ThreadWindow, checkWindow(run)))
}

// ValidateSettings checks the settings given when Slack is connected and
// returns them compacted. An empty value becomes {}.
//
//   - the settings are a JSON object;
//   - checkWindowSeconds, if given, is a whole number of seconds, at least
//     1 and at most a year (366 days);
//   - channels, if given, is an array of objects with a non-empty string
//     id (and optionally a string name and a boolean general).
//
// Other keys are kept.
func (s *Service) ValidateSettings(raw json.RawMessage) (json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return json.RawMessage(`{}`), nil
	}
	var obj map[string]json.RawMessage
	if raw[0] != '{' || json.Unmarshal(raw, &obj) != nil {
		return nil, &integrations.FieldError{Field: "settings", Message: "must be a JSON object"}
	}
	if v, ok := obj[settingCheckWindow]; ok {
		n, err := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
		if err != nil || n < 1 || n > int64(maxCheckWindow/time.Second) {
			return nil, &integrations.FieldError{Field: settingCheckWindow,
				Message: fmt.Sprintf("must be a whole number of seconds from 1 to %d", int64(maxCheckWindow/time.Second))}
		}
	}
	if v, ok := obj[settingChannels]; ok {
		var items []json.RawMessage
		if t := bytes.TrimSpace(v); len(t) == 0 || t[0] != '[' || json.Unmarshal(t, &items) != nil {
			return nil, &integrations.FieldError{Field: settingChannels, Message: "must be an array"}
		}
		for i, it := range items {
			field := fmt.Sprintf("%s[%d]", settingChannels, i)
			var ch map[string]json.RawMessage
			if t := bytes.TrimSpace(it); len(t) == 0 || t[0] != '{' || json.Unmarshal(t, &ch) != nil {
				return nil, &integrations.FieldError{Field: field, Message: "must be an object"}
			}
			var id string
			if json.Unmarshal(ch["id"], &id) != nil || id == "" {
				return nil, &integrations.FieldError{Field: field + ".id", Message: "must be a non-empty string"}
			}
			if n, ok := ch["name"]; ok {
				var name string
				if json.Unmarshal(n, &name) != nil {
					return nil, &integrations.FieldError{Field: field + ".name", Message: "must be a string"}
				}
			}
			if g, ok := ch["general"]; ok {
				var general bool
				if json.Unmarshal(g, &general) != nil {
					return nil, &integrations.FieldError{Field: field + ".general", Message: "must be a boolean"}
				}
			}
		}
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, &integrations.FieldError{Field: "settings", Message: "must be a JSON object"}
	}
	return buf.Bytes(), nil
}

// pipelineData is what Preprocess hands to the later steps of a run.
type pipelineData struct {
	TeamID   string        `json:"teamId"`
	TeamURL  string        `json:"teamUrl"`
	Channels []channelInfo `json:"channels"`
}

// channelInfo is a channel the bot is in. New marks a channel the previous
// settings did not list: it is read to its beginning even in a check run.
type channelInfo struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	General bool   `json:"general,omitempty"`
	New     bool   `json:"new"`
}

func readPipeline(run *integrations.RunContext) (pipelineData, error) {
	var pd pipelineData
	if len(run.PipelineData) == 0 {
		return pd, integrations.Permanent(fmt.Errorf("slack: the run has no pipeline data: Preprocess did not run"))
	}
	if err := json.Unmarshal(run.PipelineData, &pd); err != nil {
		return pd, integrations.Permanent(fmt.Errorf("slack: bad pipeline data: %w", err))
	}
	return pd, nil
}

// Preprocess lists every channel the bot is a member of, following the
// conversations.list cursor to its end (the original stopped after the
// first 100 channels), flags the channels the settings do not list yet as
// new, and reads the workspace URL from team.info (without the team:read
// scope the run goes on without links).
//
// conversations.list is called without `types`, so, as in the original,
// public channels are listed (private ones would need groups:read).
func (s *Service) Preprocess(ctx context.Context, run *integrations.RunContext) (json.RawMessage, error) {
	api, err := s.client(run)
	if err != nil {
		return nil, err
	}
	known := map[string]bool{}
	for _, c := range readSettings(run.Integration.Settings).Channels {
		known[c.ID] = true
	}

	var pd pipelineData
	seen := map[string]bool{}
	cursor := ""
	for {
		list, next, err := api.GetConversationsContext(ctx, &slackapi.GetConversationsParameters{Cursor: cursor, Limit: s.pageSize})
		if err != nil {
			return nil, s.apiError(run, "conversations.list", err)
		}
		for _, c := range list {
			if !c.IsMember || seen[c.ID] {
				continue
			}
			seen[c.ID] = true
			pd.Channels = append(pd.Channels, channelInfo{ID: c.ID, Name: c.Name, General: c.IsGeneral, New: !known[c.ID]})
		}
		if next == "" {
			break
		}
		if next == cursor {
			return nil, fmt.Errorf("slack conversations.list: the API returned the cursor it was given")
		}
		cursor = next
	}

	pd.TeamID, pd.TeamURL, err = s.teamInfo(ctx, run.Integration.Token)
	if err != nil {
		if slackCode(err) != errMissingScope {
			return nil, s.apiError(run, "team.info", err)
		}
		// The workspace URL only makes links: without team:read the run
		// goes on, and its activities have no URL.
		logger(run).Warn("slack: team.info refused (missing_scope): activities get no links",
			"platform", Platform, "integrationId", run.Integration.ID)
	}
	b, err := json.Marshal(pd)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// Postprocess writes the channel list of the run into settings.channels
// (without the new flag), keeping every other key of the settings.
//
// A new channel any of whose streams did not finish is left out, so that
// the next run sees it as new again and reads it to its beginning: taking
// it in would make the next check run read only its last day. A known
// channel stays in whatever happened.
func (s *Service) Postprocess(_ context.Context, run *integrations.RunContext, outcome integrations.RunOutcome) (json.RawMessage, error) {
	pd, err := readPipeline(run)
	if err != nil {
		// Nothing was learnt: keep the settings as they are.
		return run.Integration.Settings, nil
	}
	unfinished := map[string]bool{}
	for _, st := range outcome.Unfinished {
		var md struct {
			ChannelID string `json:"channelId"`
		}
		if st.DecodeMetadata(&md) == nil && md.ChannelID != "" {
			unfinished[md.ChannelID] = true
		}
	}
	channels := make([]channelSetting, 0, len(pd.Channels))
	for _, c := range pd.Channels {
		if c.New && unfinished[c.ID] {
			logger(run).Warn("slack: new channel not finished; it stays new for the next run",
				"platform", Platform, "channelId", c.ID, "channel", c.Name)
			continue
		}
		channels = append(channels, channelSetting{ID: c.ID, Name: c.Name, General: c.General})
	}

	obj := map[string]json.RawMessage{}
	if len(bytes.TrimSpace(run.Integration.Settings)) > 0 {
		if err := json.Unmarshal(run.Integration.Settings, &obj); err != nil || obj == nil {
			obj = map[string]json.RawMessage{}
		}
	}
	b, err := json.Marshal(channels)
	if err != nil {
		return nil, err
	}
	obj[settingChannels] = b
	return json.Marshal(obj)
}
