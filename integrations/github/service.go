package github

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/internal/quota"
)

// Platform is the integrations.platform value of GitHub.
const Platform = "github"

// Environment variables (DESIGN.md §4).
const (
	EnvAPIURL        = "GITHUB_API_URL"
	EnvGraphQLURL    = "GITHUB_GRAPHQL_URL"
	EnvAppID         = "GITHUB_APP_ID"
	EnvAppPrivateKey = "GITHUB_APP_PRIVATE_KEY"
)

// Defaults: the real API.
const (
	DefaultAPIURL     = "https://api.github.com"
	DefaultGraphQLURL = "https://api.github.com/graphql"
)

// checkSlack is how far before the last run's start a check reads again:
// GitHub's updatedAt and the worker's clock are not the same clock, and an
// event written while the last run was reading must not fall between.
const checkSlack = time.Hour

// Options configure a Service.
type Options struct {
	APIURL     string // REST base, DefaultAPIURL when empty
	GraphQLURL string // DefaultGraphQLURL when empty
	// App is the GitHub App for integrations connected as installations.
	App *App
	// HTTPClient defaults to a client with a 60 s timeout.
	HTTPClient *http.Client
	// Now is the clock (time.Now when nil).
	Now func() time.Time

	// appErr is a malformed GITHUB_APP_* found by FromEnv.
	appErr error
}

// FromEnv returns the Options the environment asks for. A malformed
// GITHUB_APP_* is reported when an installation is processed.
func FromEnv() Options {
	app, err := AppFromEnv()
	o := Options{APIURL: os.Getenv(EnvAPIURL), GraphQLURL: os.Getenv(EnvGraphQLURL), App: app}
	if err != nil {
		o.appErr = err
	}
	return o
}

// Service is the GitHub integration: stars, forks, pull requests and
// their reviews, comments and timeline, issues and their comments,
// discussions and their comments and replies, of the listed repositories
// or of an app installation's.
type Service struct {
	c      *client
	http   *http.Client
	apps   *installations
	apiURL string
	now    func() time.Time
	appErr error
}

var (
	_ integrations.Service                 = (*Service)(nil)
	_ integrations.Preprocessor            = (*Service)(nil)
	_ integrations.MemberAttributeProvider = (*Service)(nil)
	_ integrations.Postprocessor           = (*Service)(nil)
	_ integrations.SettingsValidator       = (*Service)(nil)
	_ integrations.FinishChecker           = (*Service)(nil)
)

// New returns the GitHub service.
func New(o Options) *Service {
	hc := o.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 60 * time.Second}
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	apiURL := strings.TrimRight(cmp.Or(strings.TrimSpace(o.APIURL), DefaultAPIURL), "/")
	gql := cmp.Or(strings.TrimSpace(o.GraphQLURL), DefaultGraphQLURL)
	base := hc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	return &Service{
		c: &client{graphqlURL: gql, restURL: apiURL, now: now},
		// A token's calls are booked in the quota ledger the activity's
		// context carries, one budget per x-ratelimit-resource.
		http:   quota.Wrap(hc, quota.GitHub),
		apps:   &installations{app: o.App, apiURL: apiURL, base: base, timeout: hc.Timeout},
		apiURL: apiURL,
		now:    now,
		appErr: o.appErr,
	}
}

// Platform returns "github".
func (s *Service) Platform() string { return Platform }

// Config: a daily check (1440 minutes). The original had none (webhooks
// only, so a missed webhook was lost for ever); the check walks each
// connection newest first and stops at what the last run saw, a few
// requests per repository when nothing changed. Four streams in flight:
// GitHub's points budget is the limit, and its secondary limits punish
// many concurrent requests on one token.
func (s *Service) Config() integrations.Config {
	return integrations.Config{Ticks: 1440, ParallelStreams: 4}
}

// Member attribute names (crowd.dev's GitHub set).
const (
	attrIsHireable = "isHireable"
	attrURL        = "url"
	attrWebsiteURL = "websiteUrl"
	attrBio        = "bio"
	attrLocation   = "location"
	attrAvatarURL  = "avatarUrl"
)

// MemberAttributes lists what members get from GitHub.
func (s *Service) MemberAttributes() []integrations.MemberAttribute {
	return []integrations.MemberAttribute{
		{Name: attrIsHireable, Label: "Is hireable", Type: "boolean", Show: true, CanDelete: false},
		{Name: attrURL, Label: "URL", Type: "url", Show: true, CanDelete: false},
		{Name: attrWebsiteURL, Label: "Website", Type: "url", Show: true, CanDelete: false},
		{Name: attrBio, Label: "Bio", Type: "string", Show: true, CanDelete: false},
		{Name: attrLocation, Label: "Location", Type: "string", Show: true, CanDelete: false},
		{Name: attrAvatarURL, Label: "Avatar URL", Type: "url", Show: false, CanDelete: false},
	}
}

// pipelineData is what Preprocess hands to the later steps.
type pipelineData struct {
	Repos       []Repo `json:"repos"`
	Unavailable []Repo `json:"unavailableRepos"`
	// Since maps a repository to the time a check stops at (check runs
	// only; absent for a repository never read to the end).
	Since map[string]time.Time `json:"since,omitempty"`
}

// Preprocess lists the run's repositories (an installation's from
// /installation/repositories, else the settings'), probes them all in one
// query, and sorts them into available and unavailable.
func (s *Service) Preprocess(ctx context.Context, run *integrations.RunContext) (json.RawMessage, error) {
	if s.appErr != nil && run.Integration.Token == "" {
		return nil, integrations.Permanent(s.appErr)
	}
	st, err := decodeSettings(run.Integration.Settings)
	if err != nil {
		return nil, err
	}
	cr, err := s.credFor(run.Integration)
	if err != nil {
		return nil, err
	}
	candidates := append(append([]Repo(nil), st.Repos...), st.UnavailableRepos...)
	if run.Integration.Token == "" {
		if candidates, err = s.installationRepos(ctx, cr); err != nil {
			return nil, err
		}
	}
	if len(candidates) == 0 {
		return nil, integrations.Permanent(fmt.Errorf("github: %w to read: connect with settings {\"repos\":[{\"owner\":...,\"name\":...}]}", errNoRepos))
	}
	pd := pipelineData{Repos: []Repo{}, Unavailable: []Repo{}}
	for start := 0; start < len(candidates); start += 50 {
		batch := candidates[start:min(start+50, len(candidates))]
		avail, gone, err := s.probe(ctx, cr, batch)
		if err != nil {
			return nil, err
		}
		pd.Repos = append(pd.Repos, avail...)
		pd.Unavailable = append(pd.Unavailable, gone...)
	}
	if !run.Onboarding {
		pd.Since = map[string]time.Time{}
		for _, r := range pd.Repos {
			if t, ok := st.Checkpoints[strings.ToLower(r.FullName())]; ok {
				pd.Since[strings.ToLower(r.FullName())] = t.Add(-checkSlack)
			}
		}
	}
	return json.Marshal(pd)
}

// probe asks for every repository of the batch in one query (aliases r0,
// r1, ...): one point for up to 50 repositories.
func (s *Service) probe(ctx context.Context, cr cred, repos []Repo) (avail, gone []Repo, err error) {
	var b strings.Builder
	b.WriteString("query Probe {\n  " + rateLimitFields + "\n")
	for i, r := range repos {
		fmt.Fprintf(&b, "  r%d: repository(owner: %q, name: %q) %s\n", i, r.Owner, r.Name, probeFields)
	}
	b.WriteString("}")
	var data map[string]json.RawMessage
	qerr := s.c.query(ctx, cr, "Probe", b.String(), nil, &data)
	var qe *queryError
	if qerr != nil && !(errors.As(qerr, &qe) && qe.unavailable()) {
		return nil, nil, qerr
	}
	for i, r := range repos {
		var got struct {
			URL       string `json:"url"`
			CreatedAt string `json:"createdAt"`
		}
		if raw, ok := data[fmt.Sprintf("r%d", i)]; ok && string(raw) != "null" && json.Unmarshal(raw, &got) == nil && got.URL != "" {
			r.CreatedAt = got.CreatedAt
			r.URL = siteURL + "/" + r.Owner + "/" + r.Name
			avail = append(avail, r)
		} else {
			gone = append(gone, r)
		}
	}
	return avail, gone, nil
}

// installationRepos lists an installation's repositories, every page.
func (s *Service) installationRepos(ctx context.Context, cr cred) ([]Repo, error) {
	next := s.apiURL + "/installation/repositories?per_page=100"
	var out []Repo
	for next != "" {
		var page struct {
			Repositories []struct {
				Name      string `json:"name"`
				CreatedAt string `json:"created_at"`
				Owner     struct {
					Login string `json:"login"`
				} `json:"owner"`
			} `json:"repositories"`
		}
		n, err := s.c.getJSON(ctx, cr, next, &page)
		if err != nil {
			return nil, err
		}
		for _, r := range page.Repositories {
			out = append(out, Repo{Owner: r.Owner.Login, Name: r.Name, URL: siteURL + "/" + r.Owner.Login + "/" + r.Name, CreatedAt: r.CreatedAt})
		}
		if n != "" {
			if _, err := url.Parse(n); err != nil {
				return nil, fmt.Errorf("github: bad Link next %q", n)
			}
		}
		next = n
	}
	sort.Slice(out, func(i, j int) bool { return out[i].FullName() < out[j].FullName() })
	return out, nil
}

// Stream names (integrationStreams.name).
const (
	streamStargazers      = "stargazers"
	streamForks           = "forks"
	streamPulls           = "pulls"
	streamIssues          = "issues"
	streamDiscussions     = "discussions"
	streamPullComments    = "pull-comments"
	streamReviewThreads   = "pull-review-threads"
	streamThreadComments  = "pull-review-thread-comments"
	streamTimeline        = "pull-timeline"
	streamIssueComments   = "issue-comments"
	streamDiscussionComms = "discussion-comments"
	streamReplies         = "discussion-comment-replies"
)

// streamMeta is everything a stream needs, so that it can be processed
// without the pipeline data, by any worker, days later.
type streamMeta struct {
	Repo Repo `json:"repo"`
	// Since stops a check's walk (nil: read to the end).
	Since *time.Time `json:"since,omitempty"`
	// Cursor is the page to read (empty: the first).
	Cursor string `json:"cursor,omitempty"`
	// Node is the parent the stream reads the children of (issue, pull
	// request, review thread, discussion, discussion comment); Number and
	// URL describe it.
	Node   string `json:"node,omitempty"`
	Number int    `json:"number,omitempty"`
	URL    string `json:"url,omitempty"`
	// Parent is the node id a reply's activity points to (the PR of a
	// review-thread comment).
	Parent string `json:"parent,omitempty"`
}

// GetStreams returns five streams per available repository.
func (s *Service) GetStreams(_ context.Context, run *integrations.RunContext) ([]integrations.Stream, error) {
	var pd pipelineData
	if err := json.Unmarshal(run.PipelineData, &pd); err != nil {
		return nil, fmt.Errorf("github pipeline data: %w", err)
	}
	var out []integrations.Stream
	for _, r := range pd.Repos {
		m := streamMeta{Repo: r}
		if t, ok := pd.Since[strings.ToLower(r.FullName())]; ok {
			m.Since = &t
		}
		for _, name := range []string{streamStargazers, streamForks, streamPulls, streamIssues, streamDiscussions} {
			out = append(out, integrations.NewStream(name, m))
		}
	}
	return out, nil
}

// IsProcessingFinished stops a check's walk once a page reached what the
// last run saw (LastRecordTimestamp is the page's oldest item).
func (s *Service) IsProcessingFinished(_ *integrations.RunContext, st integrations.Stream, res *integrations.StreamResult) bool {
	var m streamMeta
	if err := st.DecodeMetadata(&m); err != nil || m.Since == nil || res.LastRecordTimestamp.IsZero() {
		return false
	}
	return res.LastRecordTimestamp.Before(*m.Since)
}

// Postprocess writes back the repositories as this run found them, and
// moves each fully read repository's checkpoint to the run's start.
func (s *Service) Postprocess(_ context.Context, run *integrations.RunContext, outcome integrations.RunOutcome) (json.RawMessage, error) {
	st, err := decodeSettings(run.Integration.Settings)
	if err != nil {
		return nil, err
	}
	var pd pipelineData
	if err := json.Unmarshal(run.PipelineData, &pd); err != nil {
		return nil, fmt.Errorf("github pipeline data: %w", err)
	}
	unfinished := map[string]bool{}
	for _, u := range outcome.Unfinished {
		var m streamMeta
		if u.DecodeMetadata(&m) == nil {
			unfinished[strings.ToLower(m.Repo.FullName())] = true
		}
	}
	cp := map[string]time.Time{}
	for _, r := range pd.Repos {
		k := strings.ToLower(r.FullName())
		if old, ok := st.Checkpoints[k]; ok {
			cp[k] = old
		}
		if !unfinished[k] && !run.StartedAt.IsZero() {
			cp[k] = run.StartedAt.UTC()
		}
	}
	st.Repos, st.UnavailableRepos, st.Checkpoints = pd.Repos, pd.Unavailable, cp
	return json.Marshal(st)
}
