package github

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"github.com/crowdflow/crowdflow/integrations"
)

// Activity types (crowd.dev §5.6).
const (
	TypeStar                = "star"
	TypeUnstar              = "unstar"
	TypeFork                = "fork"
	TypePullOpened          = "pull_request-opened"
	TypePullAssigned        = "pull_request-assigned"
	TypePullReviewRequested = "pull_request-review-requested"
	TypePullReviewed        = "pull_request-reviewed"
	TypePullMerged          = "pull_request-merged"
	TypePullClosed          = "pull_request-closed"
	TypePullComment         = "pull_request-comment"
	TypePullThreadComment   = "pull_request-review-thread-comment"
	TypeIssueOpened         = "issues-opened"
	TypeIssueClosed         = "issues-closed"
	TypeIssueComment        = "issue-comment"
	TypeDiscussionStarted   = "discussion-started"
	TypeDiscussionComment   = "discussion-comment"
)

// scores are crowd.dev's grid: score and whether it is a contribution.
var scores = map[string]struct {
	score   int
	contrib bool
}{
	TypeStar: {2, false}, TypeUnstar: {-2, false}, TypeFork: {4, false},
	TypePullOpened: {10, true}, TypePullAssigned: {2, false}, TypePullReviewRequested: {2, false},
	TypePullReviewed: {8, true}, TypePullMerged: {6, true}, TypePullClosed: {8, true},
	TypePullComment: {6, true}, TypePullThreadComment: {6, true},
	TypeIssueOpened: {8, true}, TypeIssueClosed: {6, true}, TypeIssueComment: {6, true},
	TypeDiscussionStarted: {8, true}, TypeDiscussionComment: {6, true},
}

// answerScore is a discussion comment marked as the answer.
const answerScore = 8

// Activity attribute names.
const (
	attrState             = "state"
	attrAdditions         = "additions"
	attrDeletions         = "deletions"
	attrChangedFiles      = "changedFiles"
	attrAuthorAssociation = "authorAssociation"
	attrLabels            = "labels"
	attrCategory          = "category"
	attrIsAnswer          = "isAnswer"
	attrAssignee          = "assignee"
	attrReviewer          = "reviewer"
	attrReviewState       = "reviewState"
)

// clean drops NUL characters, which PostgreSQL text cannot hold (crowd.dev
// stripped them from issue titles; bodies can carry them too).
func clean(s string) string { return strings.ReplaceAll(s, "\x00", "") }

// iso is the timestamp form of generated source ids: seconds, UTC, as
// both GraphQL and webhook payloads give it.
func iso(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// starSourceID is crowd.dev's generateSourceIdHash(login, 'star',
// unix(starredAt), 'github') (#407): stable across runs and the same from
// a webhook's starred_at.
func starSourceID(login string, at time.Time) string {
	sum := sha256.Sum256([]byte(login + "|star|" + strconv.FormatInt(at.Unix(), 10) + "|" + Platform))
	return hex.EncodeToString(sum[:])
}

// isSkipped says a member is not a person: a deleted account (GitHub
// answers author null, or the "ghost" placeholder) or a bot.
func isSkipped(a *actor) bool {
	if a == nil || a.Login == "" || strings.EqualFold(a.Login, "ghost") {
		return true
	}
	return a.Typename == "Bot" || strings.HasSuffix(a.Login, "[bot]")
}

// member turns an actor into a member; ok is false for bots and ghosts.
func member(a *actor) (integrations.Member, bool) {
	if isSkipped(a) {
		return integrations.Member{}, false
	}
	m := integrations.Member{Username: a.Login, DisplayName: clean(a.Name), Attributes: map[string]any{}}
	if a.DatabaseID > 0 {
		m.SourceID = strconv.FormatInt(a.DatabaseID, 10)
	}
	if a.Email != "" {
		m.Emails = []string{a.Email}
	}
	url := a.URL
	if url == "" {
		url = siteURL + "/" + a.Login
	}
	m.Attributes[attrURL] = url
	if a.AvatarURL != "" {
		m.Attributes[attrAvatarURL] = a.AvatarURL
	}
	// Profile fields come with a User from GraphQL; a webhook's user has
	// none of them, and leaves what a poll stored untouched.
	if a.Typename == "User" && a.Followers != nil {
		m.Attributes[attrIsHireable] = a.IsHireable
		for k, v := range map[string]string{attrWebsiteURL: a.WebsiteURL, attrBio: a.Bio, attrLocation: a.Location} {
			if v != "" {
				m.Attributes[k] = clean(v)
			}
		}
		reach := a.Followers.TotalCount
		m.Reach = &reach
		if org := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(a.Company), "@")); org != "" {
			m.Organizations = []integrations.Organization{{Name: clean(org)}}
		}
	}
	return m, true
}

func newActivity(typ, sourceID string, at time.Time, m integrations.Member, channel string) integrations.Activity {
	sc := scores[typ]
	return integrations.Activity{Type: typ, SourceID: sourceID, Timestamp: at.UTC(), Member: m, Channel: channel,
		Score: sc.score, IsContribution: sc.contrib}
}

// prInfo is what the activities of a pull request carry, from GraphQL or
// from a webhook.
type prInfo struct {
	ID, Title, Body, URL, State, AuthorAssociation string
	Additions, Deletions, ChangedFiles             int
	Labels                                         []string
	CreatedAt                                      time.Time
}

func (p prInfo) attributes() map[string]any {
	labels := p.Labels
	if labels == nil {
		labels = []string{}
	}
	return map[string]any{attrState: strings.ToLower(p.State), attrAdditions: p.Additions, attrDeletions: p.Deletions,
		attrChangedFiles: p.ChangedFiles, attrAuthorAssociation: p.AuthorAssociation, attrLabels: labels}
}

func pullOpened(repo Repo, p prInfo, m integrations.Member) integrations.Activity {
	a := newActivity(TypePullOpened, p.ID, p.CreatedAt, m, repo.URL)
	a.Title, a.Body, a.URL, a.Attributes = clean(p.Title), clean(p.Body), p.URL, p.attributes()
	return a
}

// pullEvent is a timeline event of a pull request. Source ids follow
// crowd.dev's gen-<kind>_<pr>_<login>... templates, built from what the
// webhook of the same event carries too, with the actor (never the PR's
// author: the original's webhook used the author, its poll the actor, and
// stored events twice). Assignments and review requests have no event
// time in their webhooks, so their ids leave the time out: one activity
// per PR, actor and assignee (or reviewer).
func pullEvent(repo Repo, p prInfo, typ string, m integrations.Member, subject string, at time.Time) integrations.Activity {
	var id string
	switch typ {
	case TypePullAssigned:
		id = "gen-AE_" + p.ID + "_" + m.Username + "_" + subject
	case TypePullReviewRequested:
		id = "gen-RRE_" + p.ID + "_" + m.Username + "_" + subject
	case TypePullReviewed:
		id = "gen-PRR_" + p.ID + "_" + m.Username + "_" + iso(at)
	case TypePullMerged:
		id = "gen-ME_" + p.ID + "_" + m.Username + "_" + iso(at)
	case TypePullClosed:
		id = "gen-CE_" + p.ID + "_" + m.Username + "_" + iso(at)
	}
	a := newActivity(typ, id, at, m, repo.URL)
	a.SourceParentID, a.Title, a.URL, a.Attributes = p.ID, clean(p.Title), p.URL, p.attributes()
	switch typ {
	case TypePullAssigned:
		a.Attributes[attrAssignee] = subject
	case TypePullReviewRequested:
		a.Attributes[attrReviewer] = subject
	}
	return a
}

// commentInfo is one comment, from GraphQL or a webhook.
type commentInfo struct {
	ID, Body, URL string
	CreatedAt     time.Time
}

func commentActivity(typ string, c commentInfo, parentID, title, channel string, m integrations.Member) integrations.Activity {
	a := newActivity(typ, c.ID, c.CreatedAt, m, channel)
	a.SourceParentID, a.Body, a.URL, a.Title = parentID, clean(c.Body), c.URL, clean(title)
	return a
}

func issueOpened(repo Repo, id, title, body, url, state string, at time.Time, m integrations.Member) integrations.Activity {
	a := newActivity(TypeIssueOpened, id, at, m, repo.URL)
	a.Title, a.Body, a.URL, a.Attributes = clean(title), clean(body), url, map[string]any{attrState: strings.ToLower(state)}
	return a
}

func discussionStarted(repo Repo, id, title, body, url string, at time.Time, cat *category, m integrations.Member) integrations.Activity {
	a := newActivity(TypeDiscussionStarted, id, at, m, repo.URL)
	a.Title, a.Body, a.URL = clean(title), clean(body), url
	if cat != nil {
		a.Attributes = map[string]any{attrCategory: map[string]any{"id": cat.ID, "isAnswerable": cat.IsAnswerable,
			"name": cat.Name, "slug": cat.Slug, "emoji": cat.Emoji, "description": cat.Description}}
	}
	return a
}

func discussionComment(repo Repo, c commentInfo, parentID, title string, isAnswer bool, m integrations.Member) integrations.Activity {
	a := commentActivity(TypeDiscussionComment, c, parentID, title, repo.URL, m)
	a.Attributes = map[string]any{attrIsAnswer: isAnswer}
	if isAnswer {
		a.Score = answerScore
	}
	return a
}

func labelNames(l labelNodes) []string {
	out := []string{}
	for _, n := range l.Nodes {
		out = append(out, n.Name)
	}
	return out
}
