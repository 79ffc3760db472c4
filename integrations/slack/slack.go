package slack

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/internal/quota"
	"github.com/crowdflow/crowdflow/internal/safehttp"
)

// Platform is the integrations.platform value of this service.
const Platform = "slack"

// EnvAPIURL names the environment variable FromEnv reads the API base URL
// from; DefaultAPIURL is the real API.
const (
	EnvAPIURL     = "SLACK_API_URL"
	DefaultAPIURL = "https://slack.com/api/"
)

// Stream names (integrationStreams.name).
const (
	// StreamMembers pages users.list. Onboarding runs only.
	StreamMembers = "members"
	// StreamChannel pages conversations.history of one channel.
	StreamChannel = "channel"
	// StreamThread pages conversations.replies of one thread.
	StreamThread = "thread"
	// StreamChannelMembers pages conversations.members of one channel, for
	// the channel_joined activities of members whose join message is not
	// in the history. It follows the last page of a channel's history in
	// onboarding runs and for new channels.
	StreamChannelMembers = "channel_members"
)

// Activity types, scores and the default check window.
const (
	TypeMessage       = "message"
	TypeChannelJoined = "channel_joined"

	scoreMessage       = 6
	scoreChannelJoined = 3

	// DefaultCheckWindow is how far back a check run reads a channel that
	// is not new; the checkWindowSeconds setting overrides it.
	DefaultCheckWindow = 24 * time.Hour
	// ThreadWindow is how old a thread's parent may be for a check run to
	// find the replies it got since the last run (threadWindowStart).
	ThreadWindow = 45 * 24 * time.Hour
	// maxCheckWindow bounds checkWindowSeconds: further back than a year is
	// what an onboarding run is for.
	maxCheckWindow = 366 * 24 * time.Hour

	defaultPageSize = 200
	slackbotID      = "USLACKBOT"
	userCacheTTL    = 24 * time.Hour
)

// Options configure a Service.
type Options struct {
	// APIURL is the Web API base URL; empty means DefaultAPIURL. A missing
	// trailing slash is added (slack-go appends method names to it).
	APIURL string
	// HTTPClient is used for every call; nil means a client with a 60 s
	// timeout.
	HTTPClient *http.Client
	// PageSize is the `limit` sent to paginated methods; 0 means 200.
	PageSize int
	// Now is the clock of RateLimitedError deadlines and of the user
	// cache; nil means time.Now.
	Now func() time.Time
}

// FromEnv returns the Options given by the environment: SLACK_API_URL, or
// the real API when it is unset.
func FromEnv() Options {
	return Options{APIURL: os.Getenv(EnvAPIURL)}
}

// Service is the Slack integration. One Service serves every Slack
// integration of the worker; it holds no per-run state but a cache of
// user profiles (per integration, 24 h), so that a page of messages costs
// at most one users.info call per author not seen before.
type Service struct {
	apiURL   string
	http     *http.Client
	pageSize int
	now      func() time.Time
	users    *userCache
}

var (
	_ integrations.Service                 = (*Service)(nil)
	_ integrations.Preprocessor            = (*Service)(nil)
	_ integrations.MemberAttributeProvider = (*Service)(nil)
	_ integrations.FinishChecker           = (*Service)(nil)
	_ integrations.Postprocessor           = (*Service)(nil)
	_ integrations.SettingsValidator       = (*Service)(nil)
)

// New returns a Service.
func New(o Options) *Service {
	u := strings.TrimSpace(o.APIURL)
	if u == "" {
		u = DefaultAPIURL
	}
	if !strings.HasSuffix(u, "/") {
		u += "/"
	}
	// The token never follows a redirect to another server, and every
	// call is booked in the quota ledger the activity's context carries
	// (one budget per token).
	hc := quota.Wrap(safehttp.Client(o.HTTPClient, 60*time.Second), quota.Slack)
	ps := o.PageSize
	if ps <= 0 {
		ps = defaultPageSize
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	return &Service{apiURL: u, http: hc, pageSize: ps, now: now, users: newUserCache(userCacheTTL)}
}

// Platform returns "slack".
func (s *Service) Platform() string { return Platform }

// Config returns the scheduling of the original: a check every 20 minutes,
// no global limit.
func (s *Service) Config() integrations.Config {
	// Four streams in flight hide the calls' latency; the workspace's
	// per-method limits are the quota's business.
	return integrations.Config{Ticks: 20, ParallelStreams: 4}
}

// MemberAttributes lists the attributes Slack members get.
func (s *Service) MemberAttributes() []integrations.MemberAttribute {
	return []integrations.MemberAttribute{
		{Name: "sourceId", Label: "Source ID", Type: "string", Show: false, CanDelete: false},
		{Name: "avatarUrl", Label: "Avatar URL", Type: "url", Show: false, CanDelete: false},
		{Name: "timezone", Label: "Timezone", Type: "string", Show: true, CanDelete: false},
		{Name: "jobTitle", Label: "Job title", Type: "string", Show: true, CanDelete: false},
		{Name: attrDeactivated, Label: "Deactivated", Type: "boolean", Show: true, CanDelete: false},
	}
}

// client returns a slack-go client for the run's bot token.
//
// slack-go's own retries stay off (no OptionRetry / OptionRetryConfig: off
// by default since v0.35), so a 429 comes back at once as
// *slackapi.RateLimitedError and becomes a RateLimitedError: the engine
// waits on a durable Temporal timer instead of a goroutine sleeping inside
// an activity.
func (s *Service) client(run *integrations.RunContext) (*slackapi.Client, error) {
	if run.Integration.Token == "" {
		return nil, integrations.Permanent(fmt.Errorf("slack: integration %s has no bot token: reconnect Slack", run.Integration.ID))
	}
	return slackapi.New(run.Integration.Token,
		slackapi.OptionAPIURL(s.apiURL),
		slackapi.OptionHTTPClient(s.http),
	), nil
}

// teamInfo calls team.info for the workspace id and URL. slack-go's
// TeamInfo has no `url` field, so this one call is made by hand, the way
// slack-go makes the others (POST, form body, token in the form), and its
// failures are returned as slack-go's error types so that apiError treats
// them like any other call's.
func (s *Service) teamInfo(ctx context.Context, token string) (id, teamURL string, err error) {
	form := strings.NewReader(url.Values{"token": {token}}.Encode())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.apiURL+"team.info", form)
	if err != nil {
		return "", "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := s.http.Do(req)
	if err != nil {
		return "", "", err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode == http.StatusTooManyRequests {
		if secs, perr := parseRetryAfter(resp.Header.Get("Retry-After")); perr == nil {
			return "", "", &slackapi.RateLimitedError{RetryAfter: secs}
		}
	}
	if resp.StatusCode != http.StatusOK {
		return "", "", slackapi.StatusCodeError{Code: resp.StatusCode, Status: resp.Status}
	}
	var body struct {
		OK       bool   `json:"ok"`
		Error    string `json:"error"`
		Needed   string `json:"needed"`
		Provided string `json:"provided"`
		Team     struct {
			ID     string `json:"id"`
			Domain string `json:"domain"`
			URL    string `json:"url"`
		} `json:"team"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&body); err != nil {
		return "", "", fmt.Errorf("decoding the answer: %w", err)
	}
	if !body.OK {
		return "", "", slackapi.SlackErrorResponse{Err: body.Error, Needed: body.Needed, Provided: body.Provided}
	}
	teamURL = body.Team.URL
	if teamURL == "" && body.Team.Domain != "" {
		teamURL = "https://" + body.Team.Domain + ".slack.com/"
	}
	if teamURL != "" && !strings.HasSuffix(teamURL, "/") {
		teamURL += "/"
	}
	return body.Team.ID, teamURL, nil
}

func parseRetryAfter(v string) (time.Duration, error) {
	secs, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || secs < 0 {
		return 0, fmt.Errorf("bad Retry-After %q", v)
	}
	return time.Duration(secs) * time.Second, nil
}

func logger(run *integrations.RunContext) *slog.Logger {
	if run.Logger != nil {
		return run.Logger
	}
	return slog.New(slog.DiscardHandler)
}
