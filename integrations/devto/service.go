package devto

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/microcosm-cc/bluemonday"
	"golang.org/x/time/rate"

	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/internal/quota"
	"github.com/crowdflow/crowdflow/internal/safehttp"
)

// Platform is the integrations.platform value of Dev.to.
const Platform = "devto"

// EnvAPIURL names the variable that points the service at another API
// server (a fake, a proxy); its value includes /api.
const EnvAPIURL = "DEVTO_API_URL"

// DefaultAPIURL is the real API. Requests go to DefaultAPIURL + "/articles?...".
const DefaultAPIURL = "https://dev.to/api"

// siteURL is where the links of activities and members point.
const siteURL = "https://dev.to"

// defaultPageSize is per_page of the article lists: twice crowd.dev's 50,
// so half the calls, and far below the API's cap of 1000, so that a page
// stays a small answer.
const defaultPageSize = 100

// Activity and member attribute names.
const (
	activityComment = "comment"

	attrThread       = "thread"
	attrArticleURL   = "articleUrl"
	attrArticleTitle = "articleTitle"
	attrUserURL      = "userUrl"

	memberURL      = "url"
	memberName     = "name"
	memberLocation = "location"
	memberBio      = "bio"
	memberSourceID = "sourceId"
)

// commentScore and the contribution flag follow crowd.dev's grid.
const commentScore = 6

// Options configure a Service.
type Options struct {
	// BaseURL is the API base, /api included; empty means DefaultAPIURL.
	BaseURL string
	// HTTPClient defaults to a client with a 30 s timeout.
	HTTPClient *http.Client
	// PageSize is per_page of the article lists; 0 means 100. Tests set it
	// small to page through a small world.
	PageSize int
	// RequestsPerSecond paces the service's requests; 0 means
	// DefaultRequestsPerSecond (Dev.to's limit per address), a negative
	// value turns pacing off (tests against a fake without the limit).
	RequestsPerSecond float64
}

// FromEnv returns the Options that $DEVTO_API_URL asks for.
func FromEnv() Options {
	return Options{BaseURL: os.Getenv(EnvAPIURL)}
}

// Service is the Dev.to integration: it turns the comments on the articles
// of the configured users and organizations into activities.
type Service struct {
	c        *client
	pageSize int
	policy   *bluemonday.Policy
}

var (
	_ integrations.Service                 = (*Service)(nil)
	_ integrations.Preprocessor            = (*Service)(nil)
	_ integrations.MemberAttributeProvider = (*Service)(nil)
	_ integrations.Postprocessor           = (*Service)(nil)
	_ integrations.SettingsValidator       = (*Service)(nil)
)

// New returns the Dev.to service.
func New(o Options) *Service {
	base := strings.TrimRight(cmp.Or(strings.TrimSpace(o.BaseURL), DefaultAPIURL), "/")
	// The api-key never follows a redirect to another server, and every
	// request is booked in the quota ledger the activity's context
	// carries: one budget per address, paced at Dev.to's 3 a second.
	hc := quota.Wrap(safehttp.Client(o.HTTPClient, 30*time.Second, "api-key"), quota.Devto)
	size := o.PageSize
	if size <= 0 {
		size = defaultPageSize
	}
	var pace *rate.Limiter
	switch rps := o.RequestsPerSecond; {
	case rps == 0:
		pace = rate.NewLimiter(DefaultRequestsPerSecond, 1)
	case rps > 0:
		pace = rate.NewLimiter(rate.Limit(rps), 1)
	}
	return &Service{
		c:        &client{base: base, http: hc, now: time.Now, pace: pace},
		pageSize: min(size, 1000),
		// UGC policy: the formatting people write in comments survives,
		// scripts, styles and event handlers do not.
		policy: bluemonday.UGCPolicy(),
	}
}

// Platform returns "devto".
func (s *Service) Platform() string { return Platform }

// Config: a check every 20 minutes, no global limit (Dev.to's public
// reads are generous, and a run makes one call per changed article plus
// one per commenter). Two streams in flight: Dev.to allows 3 requests a
// second per address, which two streams' calls, each a few hundred
// milliseconds, already use.
func (s *Service) Config() integrations.Config {
	return integrations.Config{Ticks: 20, ParallelStreams: 2}
}

// MemberAttributes lists what members get from Dev.to.
func (s *Service) MemberAttributes() []integrations.MemberAttribute {
	return []integrations.MemberAttribute{
		{Name: memberSourceID, Label: "Dev.to user ID", Type: "string", Show: false, CanDelete: false},
		{Name: memberURL, Label: "URL", Type: "url", Show: true, CanDelete: false},
		{Name: memberName, Label: "Name", Type: "string", Show: true, CanDelete: false},
		{Name: memberLocation, Label: "Location", Type: "string", Show: true, CanDelete: false},
		{Name: memberBio, Label: "Bio", Type: "string", Show: true, CanDelete: false},
	}
}

// pipelineData is what Preprocess hands to the later steps.
type pipelineData struct {
	// Articles are the articles to check this run.
	Articles []article `json:"articles"`
	// ArticlesFromAPI are all the articles the API listed, for Postprocess.
	ArticlesFromAPI []article `json:"articlesFromAPI"`
}

// streamMeta is what a stream needs to be processed without pipeline data.
type streamMeta struct {
	ArticleID int64  `json:"articleId"`
	URL       string `json:"url"`
	Title     string `json:"title"`
}

func decodeSettings(run *integrations.RunContext) (Settings, error) {
	var st Settings
	if len(run.Integration.Settings) == 0 {
		return st, nil
	}
	if err := json.Unmarshal(run.Integration.Settings, &st); err != nil {
		return st, integrations.Permanent(fmt.Errorf("devto: settings: %w", err))
	}
	return st, nil
}

// Preprocess lists every article of the configured organizations and users
// and picks those whose comments changed since the last run.
func (s *Service) Preprocess(ctx context.Context, run *integrations.RunContext) (json.RawMessage, error) {
	st, err := decodeSettings(run)
	if err != nil {
		return nil, err
	}
	log := logger(run)
	pd := pipelineData{Articles: []article{}, ArticlesFromAPI: []article{}}
	seen := map[int64]bool{}
	add := func(list []article) {
		for _, a := range list {
			if !seen[a.ID] {
				seen[a.ID] = true
				pd.ArticlesFromAPI = append(pd.ArticlesFromAPI, a)
			}
		}
	}
	for _, org := range st.Organizations {
		list, err := s.c.listArticles(ctx, "/organizations/"+url.PathEscape(org)+"/articles", nil, s.pageSize, run.Integration.Token)
		if errors.Is(err, errNotFound) {
			// One organization gone (renamed, deleted) must not stop the
			// others: skip it and say so.
			log.Warn("devto: organization not found, skipped", "organization", org)
			continue
		}
		if err != nil {
			return nil, err
		}
		add(list)
	}
	for _, u := range st.Users {
		// username= also takes organization slugs; an unknown name is an
		// empty list, not a 404.
		list, err := s.c.listArticles(ctx, "/articles", url.Values{"username": {u}}, s.pageSize, run.Integration.Token)
		if err != nil {
			return nil, err
		}
		add(list)
	}

	stored := make(map[int64]*string, len(st.Articles))
	for _, a := range st.Articles {
		stored[a.ID] = a.LastCommentAt
	}
	for _, a := range pd.ArticlesFromAPI {
		prev, known := stored[a.ID]
		if !known || prev == nil || !sameInstant(*prev, a.LastCommentAt) {
			pd.Articles = append(pd.Articles, a)
		}
	}
	log.Info("devto: articles listed", "articles", len(pd.ArticlesFromAPI), "toCheck", len(pd.Articles))
	return json.Marshal(pd)
}

// sameInstant compares two timestamps as instants when both parse, so that
// a change of format alone does not count as a new comment.
func sameInstant(a, b string) bool {
	ta, errA := time.Parse(time.RFC3339, a)
	tb, errB := time.Parse(time.RFC3339, b)
	if errA == nil && errB == nil {
		return ta.Equal(tb)
	}
	return a == b
}

func decodePipeline(run *integrations.RunContext) (pipelineData, error) {
	var pd pipelineData
	if len(run.PipelineData) == 0 {
		return pd, integrations.Permanent(errors.New("devto: no pipeline data: Preprocess did not run"))
	}
	if err := json.Unmarshal(run.PipelineData, &pd); err != nil {
		return pd, integrations.Permanent(fmt.Errorf("devto: pipeline data: %w", err))
	}
	return pd, nil
}

// GetStreams returns one stream per article to check. The stream name is
// the article id, as crowd.dev named them: the integrationStreams rows of
// a run then say which article each one is, and (run, name) is unique.
// The metadata carries the id, url and title, so that a stream can be
// processed again later without the pipeline data.
func (s *Service) GetStreams(ctx context.Context, run *integrations.RunContext) ([]integrations.Stream, error) {
	pd, err := decodePipeline(run)
	if err != nil {
		return nil, err
	}
	out := make([]integrations.Stream, 0, len(pd.Articles))
	for _, a := range pd.Articles {
		out = append(out, integrations.NewStream(strconv.FormatInt(a.ID, 10),
			streamMeta{ArticleID: a.ID, URL: a.URL, Title: a.Title}))
	}
	return out, nil
}

// ProcessStream turns the comments of one article into activities. The
// tree comes whole (no pages), so there is no next page and no new stream.
func (s *Service) ProcessStream(ctx context.Context, run *integrations.RunContext, st integrations.Stream) (*integrations.StreamResult, error) {
	var md streamMeta
	if err := st.DecodeMetadata(&md); err != nil || md.ArticleID <= 0 {
		return nil, integrations.Permanent(fmt.Errorf("devto: stream %q: bad metadata %s", st.Name, st.Metadata))
	}
	key := run.Integration.Token
	var tree []comment
	err := s.c.get(ctx, "/comments", url.Values{"a_id": {strconv.FormatInt(md.ArticleID, 10)}}, key, &tree)
	if errors.Is(err, errNotFound) {
		// The article was unpublished or deleted since it was listed.
		logger(run).Info("devto: article gone, no comments", "article", md.ArticleID)
		return &integrations.StreamResult{}, nil
	}
	if err != nil {
		return nil, err
	}

	// The tree's user object has the username and name but no bio nor
	// location, which only /users/{id} gives (as crowd.dev did). So every
	// commenter is fetched once per stream, and the member is built from
	// that answer: it is the current account, while the tree may lag
	// behind (a rename). A 404 (an account deleted since, or one the API
	// does not serve) keeps the comment: the member is what the tree says,
	// its username and name.
	users := map[int64]*user{}
	var ids []int64
	walk(tree, "", func(c *comment, _ string) {
		if !isPlaceholder(c) {
			if _, ok := users[c.User.UserID]; !ok {
				users[c.User.UserID] = &user{ID: c.User.UserID, Username: c.User.Username, Name: c.User.Name}
				ids = append(ids, c.User.UserID)
			}
		}
	})
	for _, id := range ids {
		var u user
		err := s.c.get(ctx, "/users/"+strconv.FormatInt(id, 10), nil, key, &u)
		if errors.Is(err, errNotFound) {
			logger(run).Info("devto: commenter has no profile (404), kept as the comment tree names them",
				"article", md.ArticleID, "userId", id)
			continue
		}
		if err != nil {
			return nil, err
		}
		users[id] = &u
	}

	res := &integrations.StreamResult{}
	walk(tree, "", func(c *comment, parent string) {
		// A deleted comment (a placeholder with no user) is skipped, but
		// walk still goes down to its replies. They keep the deleted comment's id_code as their
		// parent: the id is stable and still in the tree, the parent may
		// have been stored by an earlier run, and the store links a child
		// to its parent whenever the parent exists, so the thread stays
		// whole instead of the reply posing as a top-level comment.
		if isPlaceholder(c) {
			return
		}
		u := users[c.User.UserID]
		if u == nil || u.Username == "" {
			return
		}
		a := s.activity(c, parent, u, md)
		res.Activities = append(res.Activities, a)
		if res.LastRecordTimestamp.IsZero() || a.Timestamp.Before(res.LastRecordTimestamp) {
			res.LastRecord, res.LastRecordTimestamp = a.SourceID, a.Timestamp
		}
	})
	return res, nil
}

// walk visits every comment of the tree, parents before their replies,
// with the id_code of the comment it replies to ("" at the top level).
func walk(cs []comment, parent string, visit func(c *comment, parent string)) {
	for i := range cs {
		visit(&cs[i], parent)
		walk(cs[i].Children, cs[i].IDCode, visit)
	}
}

// isPlaceholder tells a deleted or hidden comment: it has no user, or an
// empty one ({}), in the tree.
func isPlaceholder(c *comment) bool {
	return c.User == nil || c.User.UserID == 0 || c.User.Username == ""
}

func (s *Service) activity(c *comment, parent string, u *user, md streamMeta) integrations.Activity {
	userURL := siteURL + "/" + url.PathEscape(u.Username)
	return integrations.Activity{
		Type:           activityComment,
		SourceID:       c.IDCode,
		SourceParentID: parent,
		Timestamp:      c.CreatedAt.UTC(),
		Member:         member(u, userURL),
		Body:           s.policy.Sanitize(c.BodyHTML),
		URL:            userURL + "/comment/" + url.PathEscape(c.IDCode),
		Attributes: map[string]any{
			attrThread:       parent != "",
			attrArticleURL:   md.URL,
			attrArticleTitle: md.Title,
			attrUserURL:      userURL,
		},
		Score:          commentScore,
		IsContribution: true,
	}
}

func member(u *user, userURL string) integrations.Member {
	id := strconv.FormatInt(u.ID, 10)
	attrs := map[string]any{
		memberURL:      userURL,
		memberSourceID: id,
	}
	if u.Name != "" {
		attrs[memberName] = u.Name
	}
	// Empty values are left out rather than sent as "": they would
	// overwrite what the member has from elsewhere with nothing.
	if u.Summary != nil && *u.Summary != "" {
		attrs[memberBio] = *u.Summary
	}
	if u.Location != nil && *u.Location != "" {
		attrs[memberLocation] = *u.Location
	}
	return integrations.Member{
		Username:    u.Username,
		SourceID:    id,
		DisplayName: cmp.Or(u.Name, u.Username),
		Attributes:  attrs,
	}
}

// Postprocess stores the articles' last_comment_at for the next run's
// change detection: the articles the API listed with their current value,
// plus the stored ones it no longer lists (kept, so that an article that
// comes back is not taken for new). An article whose stream did not finish
// is stored without lastCommentAt, so the next run checks it again. Every
// other setting (users, organizations) is kept as it was.
func (s *Service) Postprocess(ctx context.Context, run *integrations.RunContext, outcome integrations.RunOutcome) (json.RawMessage, error) {
	if len(run.PipelineData) == 0 {
		// Preprocess never finished: nothing was learned, keep the settings.
		return run.Integration.Settings, nil
	}
	pd, err := decodePipeline(run)
	if err != nil {
		return nil, err
	}
	st, err := decodeSettings(run)
	if err != nil {
		return nil, err
	}
	unfinished := map[int64]bool{}
	for _, u := range outcome.Unfinished {
		var md streamMeta
		if err := u.DecodeMetadata(&md); err == nil && md.ArticleID > 0 {
			unfinished[md.ArticleID] = true
		}
	}
	articles := make([]ArticleState, 0, len(pd.ArticlesFromAPI)+len(st.Articles))
	listed := map[int64]bool{}
	for _, a := range pd.ArticlesFromAPI {
		listed[a.ID] = true
		state := ArticleState{ID: a.ID}
		if !unfinished[a.ID] && a.LastCommentAt != "" {
			v := a.LastCommentAt
			state.LastCommentAt = &v
		}
		articles = append(articles, state)
	}
	for _, a := range st.Articles {
		if !listed[a.ID] {
			if unfinished[a.ID] {
				a.LastCommentAt = nil
			}
			articles = append(articles, a)
		}
	}

	// Replace only "articles", keeping every other key byte for byte.
	fields := map[string]json.RawMessage{}
	if len(run.Integration.Settings) > 0 {
		if err := json.Unmarshal(run.Integration.Settings, &fields); err != nil {
			return nil, integrations.Permanent(fmt.Errorf("devto: settings: %w", err))
		}
	}
	b, err := json.Marshal(articles)
	if err != nil {
		return nil, err
	}
	fields[settingArticles] = b
	return json.Marshal(fields)
}

func logger(run *integrations.RunContext) *slog.Logger {
	if run != nil && run.Logger != nil {
		return run.Logger
	}
	return slog.New(slog.DiscardHandler)
}
