package discord

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/internal/quota"
	"github.com/crowdflow/crowdflow/internal/safehttp"
)

const (
	// Platform is the integrations.platform value of this service.
	Platform = "discord"
	// DefaultAPIURL is where the real API lives; DISCORD_API_URL overrides it.
	DefaultAPIURL = "https://discord.com"
	// DefaultAPIVersion is the API version called: the one the API
	// owner's description is written for.
	DefaultAPIVersion = "10"
	// DefaultCheckWindow is how far back a check run reads, unless the
	// checkWindowSeconds setting says otherwise.
	DefaultCheckWindow = 24 * time.Hour

	// EnvAPIURL names the environment variable FromEnv reads.
	EnvAPIURL = "DISCORD_API_URL"
)

// Stream names (integrationStreams.name).
const (
	streamMembers = "members"
	streamChannel = "channel"
	streamThreads = "threads"
)

// Activity types and their scores (crowd.dev's Discord grid).
const (
	TypeJoinedGuild   = "joined_guild"
	TypeMessage       = "message"
	TypeThreadStarted = "thread_started"

	scoreJoinedGuild = 3
	scoreMessage     = 6
)

// Page sizes: the largest each endpoint allows.
const (
	membersPageSize  = 1000
	messagesPageSize = 100
	threadsPageSize  = 100
)

// Options configure a Service.
type Options struct {
	// APIURL is the scheme and host (and an optional path prefix) every
	// request goes to. Default DefaultAPIURL.
	APIURL string
	// HTTPClient is the client requests go through; its Transport is
	// wrapped, never changed. Default: a client with a 30 s timeout.
	HTTPClient *http.Client
	// APIVersion is "10" (default) or "9": the /api/vN the requests use.
	// discordgo builds /api/v9 paths; the transport rewrites them.
	APIVersion string
	// Now is the clock rate-limit deadlines are computed with. Default
	// time.Now.
	Now func() time.Time
}

// FromEnv returns the Options the environment asks for: DISCORD_API_URL,
// or the real API when it is unset.
func FromEnv() Options {
	return Options{APIURL: os.Getenv(EnvAPIURL)}
}

// Service is the Discord integration: guild members and the messages of
// every channel and thread the bot can read.
type Service struct {
	base    *url.URL
	baseErr error
	client  *http.Client
	version string
	now     func() time.Time
}

var (
	_ integrations.Service                 = (*Service)(nil)
	_ integrations.Preprocessor            = (*Service)(nil)
	_ integrations.MemberAttributeProvider = (*Service)(nil)
	_ integrations.FinishChecker           = (*Service)(nil)
	_ integrations.Postprocessor           = (*Service)(nil)
	_ integrations.SettingsValidator       = (*Service)(nil)
)

// New returns a Service. A malformed APIURL does not panic: every call of
// the service then fails with a permanent error that names the variable.
func New(o Options) *Service {
	s := &Service{client: o.HTTPClient, version: o.APIVersion, now: o.Now}
	raw := strings.TrimSpace(o.APIURL)
	if raw == "" {
		raw = DefaultAPIURL
	}
	u, err := url.Parse(raw)
	if err == nil && (u.Scheme != "http" && u.Scheme != "https" || u.Host == "") {
		err = errors.New("want an http(s) URL with a host")
	}
	if err != nil {
		s.baseErr = fmt.Errorf("discord: %s %q: %v", EnvAPIURL, raw, err)
	} else {
		u.Path = strings.TrimSuffix(u.Path, "/")
		u.RawQuery, u.Fragment = "", ""
		s.base = u
	}
	// The bot token never follows a redirect to another server, and every
	// call is booked in the quota ledger the activity's context carries
	// (a budget per route, and the bot's global 50 a second).
	s.client = quota.Wrap(safehttp.Client(s.client, 30*time.Second), quota.Discord)
	if s.version == "" {
		s.version = DefaultAPIVersion
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

// Platform implements integrations.Service.
func (s *Service) Platform() string { return Platform }

// Config implements integrations.Service: a check every hour, no global
// limit (Discord's own rate limits pace the runs).
func (s *Service) Config() integrations.Config {
	// Eight channels at once: each channel's messages are their own
	// rate-limit bucket, and a bot has 50 requests a second in all.
	return integrations.Config{Ticks: 60, ParallelStreams: 8}
}

// MemberAttributes implements integrations.MemberAttributeProvider. Both
// attributes are hidden, as in crowd.dev:
//
//   - sourceId: the member's Discord user id (a snowflake, as a string);
//   - avatarUrl: https://cdn.discordapp.com/avatars/{user id}/{hash}.png,
//     set only when the user has an avatar of their own (the default
//     avatars say nothing about the person).
//   - isBot: true on a deleted account ("Deleted User ..."), as crowd.dev
//     marked them: such an author is no longer a person who can be
//     reached. (Bots themselves make no members.)
func (s *Service) MemberAttributes() []integrations.MemberAttribute {
	return []integrations.MemberAttribute{
		{Name: "sourceId", Label: "Source ID", Type: "string", Show: false, CanDelete: false},
		{Name: "avatarUrl", Label: "Avatar URL", Type: "url", Show: false, CanDelete: false},
		{Name: "isBot", Label: "Bot", Type: "boolean", Show: false, CanDelete: false},
	}
}

// Settings are the integration's settings.
type Settings struct {
	// GuildID is the guild (server) to read, a snowflake string.
	// Integration.Identifier is used when it is empty.
	GuildID string `json:"guildId"`
	// CheckWindowSeconds is how far back, from the run's start, a check
	// run reads. 0 means DefaultCheckWindow.
	CheckWindowSeconds int `json:"checkWindowSeconds,omitempty"`
	// Channels lists the channels whose history has been read in full,
	// as Postprocess writes it. A check run reads a readable channel
	// missing from it from the start (the bot was just let in); while
	// the list is absent no channel counts as new.
	Channels *[]ChannelRef `json:"channels,omitempty"`
}

// ChannelRef names a channel.
type ChannelRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// ValidateSettings implements integrations.SettingsValidator. It checks
// guildId (required, a snowflake string), checkWindowSeconds (optional, a
// positive integer) and channels (optional, as Postprocess writes it), and
// returns the settings with guildId trimmed; other keys are kept as given.
func (s *Service) ValidateSettings(settings json.RawMessage) (json.RawMessage, error) {
	var fields map[string]json.RawMessage
	if len(strings.TrimSpace(string(settings))) == 0 || string(settings) == "null" {
		return nil, &integrations.FieldError{Field: "guildId", Message: "is required"}
	}
	if err := json.Unmarshal(settings, &fields); err != nil || fields == nil {
		return nil, &integrations.FieldError{Field: "settings", Message: "must be a JSON object"}
	}

	raw, ok := fields["guildId"]
	if !ok || string(raw) == "null" {
		return nil, &integrations.FieldError{Field: "guildId", Message: "is required"}
	}
	var id string
	if err := json.Unmarshal(raw, &id); err != nil {
		var n json.Number
		if json.Unmarshal(raw, &n) == nil {
			return nil, &integrations.FieldError{Field: "guildId", Message: "must be a string: snowflakes do not fit in a JSON number"}
		}
		return nil, &integrations.FieldError{Field: "guildId", Message: "must be a string"}
	}
	id = strings.TrimSpace(id)
	if id == "" {
		return nil, &integrations.FieldError{Field: "guildId", Message: "is required"}
	}
	if !isSnowflake(id) {
		return nil, &integrations.FieldError{Field: "guildId", Message: "must be a Discord guild id: a snowflake of digits only, e.g. 613425648685547541"}
	}
	fields["guildId"], _ = json.Marshal(id)

	if raw, ok := fields["checkWindowSeconds"]; ok && string(raw) != "null" {
		var n int64
		if err := json.Unmarshal(raw, &n); err != nil || n <= 0 {
			return nil, &integrations.FieldError{Field: "checkWindowSeconds", Message: "must be a positive whole number of seconds"}
		}
	}
	if raw, ok := fields["channels"]; ok && string(raw) != "null" {
		var chans []ChannelRef
		if err := json.Unmarshal(raw, &chans); err != nil {
			return nil, &integrations.FieldError{Field: "channels", Message: "must be a list of {id, name}"}
		}
		for i, c := range chans {
			if !isSnowflake(c.ID) {
				return nil, &integrations.FieldError{Field: "channels[" + strconv.Itoa(i) + "].id", Message: "must be a snowflake string"}
			}
		}
	}
	return json.Marshal(fields)
}

// isSnowflake reports whether s is a snowflake: digits only, no leading
// zero, within 64 bits.
func isSnowflake(s string) bool {
	if s == "" || s[0] == '0' {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	_, err := strconv.ParseUint(s, 10, 64)
	return err == nil
}

// runConfig is what a run needs from the integration.
type runConfig struct {
	guildID string
	token   string
	window  time.Duration
	// known holds the channels read in full before; nil when the
	// settings do not say (then no channel counts as new).
	known map[string]bool
	// settings are the decoded settings, for Postprocess.
	settings Settings
}

func (s *Service) runConfig(run *integrations.RunContext) (*runConfig, error) {
	if s.baseErr != nil {
		return nil, integrations.Permanent(s.baseErr)
	}
	cfg := &runConfig{window: DefaultCheckWindow}
	if len(run.Integration.Settings) > 0 && string(run.Integration.Settings) != "null" {
		if err := json.Unmarshal(run.Integration.Settings, &cfg.settings); err != nil {
			return nil, integrations.Permanent(fmt.Errorf("discord: settings: %v", err))
		}
	}
	cfg.guildID = strings.TrimSpace(cfg.settings.GuildID)
	if cfg.guildID == "" {
		cfg.guildID = strings.TrimSpace(run.Integration.Identifier)
	}
	if !isSnowflake(cfg.guildID) {
		return nil, integrations.Permanent(fmt.Errorf("discord: settings: guildId %q is not a guild id", cfg.guildID))
	}
	if cfg.settings.CheckWindowSeconds > 0 {
		cfg.window = time.Duration(cfg.settings.CheckWindowSeconds) * time.Second
	}
	if cfg.settings.Channels != nil {
		cfg.known = map[string]bool{}
		for _, c := range *cfg.settings.Channels {
			cfg.known[c.ID] = true
		}
	}
	cfg.token = strings.TrimSpace(run.Integration.Token)
	if cfg.token == "" {
		return nil, integrations.Permanent(errors.New("discord: the integration has no bot token"))
	}
	return cfg, nil
}

// cutoff is the oldest time a check run reads.
func (c *runConfig) cutoff(run *integrations.RunContext) time.Time {
	return run.StartedAt.Add(-c.window)
}

func logger(run *integrations.RunContext) *slog.Logger {
	if run != nil && run.Logger != nil {
		return run.Logger.With("platform", Platform)
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// GetStreams implements integrations.Service: the members stream, then
// one message stream per channel and thread Preprocess found, then the
// archived-thread listings Preprocess could not finish in one page.
//
// Check runs read the members too, for those who joined since the check
// window began: the endpoint is ordered by user id, not by join date (an
// old account may join today), so the whole listing is read, at one
// request per 1000 members (a 50,000-member guild: 50 requests an hour at
// the default tick), and only the recent joins become activities. There is
// no gateway listener (GUILD_MEMBER_ADD): a connection that drops loses
// the joins meanwhile, which this listing does not.
func (s *Service) GetStreams(ctx context.Context, run *integrations.RunContext) ([]integrations.Stream, error) {
	pd, err := decodePipeline(run)
	if err != nil {
		return nil, err
	}
	out := []integrations.Stream{integrations.NewStream(streamMembers, membersMeta{})}
	for _, c := range pd.Channels {
		out = append(out, integrations.NewStream(streamChannel, c))
	}
	for _, t := range pd.Threads {
		out = append(out, integrations.NewStream(streamChannel, t))
	}
	for _, l := range pd.ThreadLists {
		out = append(out, integrations.NewStream(streamThreads, l))
	}
	return out, nil
}

// IsProcessingFinished implements integrations.FinishChecker: in a check
// run, a channel, thread or archived-thread listing stops once the oldest
// record of its page (res.LastRecordTimestamp) is older than the check
// window before the run's start. Channels new to the integration (Full)
// and the members stream never stop early.
func (s *Service) IsProcessingFinished(run *integrations.RunContext, st integrations.Stream, res *integrations.StreamResult) bool {
	if run.Onboarding || res == nil || res.LastRecordTimestamp.IsZero() {
		return false
	}
	var full bool
	switch st.Name {
	case streamChannel:
		var m channelMeta
		if st.DecodeMetadata(&m) != nil {
			return false
		}
		full = m.Full
	case streamThreads:
		var m threadListMeta
		if st.DecodeMetadata(&m) != nil {
			return false
		}
		full = m.Full
	default:
		return false
	}
	if full {
		return false
	}
	window := DefaultCheckWindow
	var set Settings
	if json.Unmarshal(run.Integration.Settings, &set) == nil && set.CheckWindowSeconds > 0 {
		window = time.Duration(set.CheckWindowSeconds) * time.Second
	}
	return res.LastRecordTimestamp.Before(run.StartedAt.Add(-window))
}
