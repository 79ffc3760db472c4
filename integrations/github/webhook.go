package github

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	gh "github.com/google/go-github/v88/github"

	"github.com/crowdflow/crowdflow/integrations"
)

var _ integrations.WebhookHandler = (*Service)(nil)

// WebhookEvents are the X-GitHub-Event names that carry activities; the
// API stores deliveries of these and acknowledges the others unstored.
var WebhookEvents = []string{"issues", "pull_request", "pull_request_review", "pull_request_review_comment",
	"issue_comment", "discussion", "discussion_comment", "star", "fork"}

// DeliveryTarget is what a delivery says about where it belongs: the app
// installation it came through (0 for a repository webhook) and the
// repository ("owner/name").
type DeliveryTarget struct {
	InstallationID int64
	Repo           string
}

// WebhookTarget reads a delivery's installation and repository.
func WebhookTarget(payload []byte) (DeliveryTarget, error) {
	var p struct {
		Installation *struct {
			ID int64 `json:"id"`
		} `json:"installation"`
		Repository *struct {
			FullName string `json:"full_name"`
		} `json:"repository"`
	}
	if err := json.Unmarshal(payload, &p); err != nil {
		return DeliveryTarget{}, fmt.Errorf("github webhook: payload is not a JSON object: %w", err)
	}
	var t DeliveryTarget
	if p.Installation != nil {
		t.InstallationID = p.Installation.ID
	}
	if p.Repository != nil {
		t.Repo = p.Repository.FullName
	}
	return t, nil
}

// WebhookRecords turns a delivery into the activities a poll of the same
// events gives, with the same source ids (crowd.dev §5.6, with its webhook
// bug fixed: closed and merged use the actor, as the poll does). Events
// and actions that carry no activity give nil.
func (s *Service) WebhookRecords(_ integrations.Integration, event string, payload json.RawMessage, receivedAt time.Time) (*integrations.StreamResult, error) {
	parsed, err := gh.ParseWebHook(event, payload)
	if err != nil {
		return nil, fmt.Errorf("github webhook %s: %w", event, err)
	}
	res := &integrations.StreamResult{}
	add := func(a integrations.Activity) { res.Activities = append(res.Activities, a) }
	switch ev := parsed.(type) {
	case *gh.IssuesEvent:
		repo, is := repoOf(ev.Repo), ev.GetIssue()
		switch ev.GetAction() {
		case "opened", "edited", "reopened":
			if m, ok := member(userActor(is.GetUser())); ok {
				add(issueOpened(repo, is.GetNodeID(), is.GetTitle(), is.GetBody(), is.GetHTMLURL(), is.GetState(), is.GetCreatedAt().Time, m))
			}
		case "closed":
			if m, ok := member(userActor(ev.GetSender())); ok {
				at := is.GetClosedAt().Time
				a := newActivity(TypeIssueClosed, "gen-CE_"+is.GetNodeID()+"_"+m.Username+"_"+iso(at), at, m, repo.URL)
				a.SourceParentID, a.Title, a.URL = is.GetNodeID(), clean(is.GetTitle()), is.GetHTMLURL()
				a.Attributes = map[string]any{attrState: strings.ToLower(is.GetState())}
				add(a)
			}
		}
	case *gh.PullRequestEvent:
		repo, pr := repoOf(ev.Repo), ev.GetPullRequest()
		info := prFromWebhook(pr)
		switch ev.GetAction() {
		case "opened", "edited", "reopened":
			if m, ok := member(userActor(pr.GetUser())); ok {
				add(pullOpened(repo, info, m))
			}
		case "closed":
			if m, ok := member(userActor(ev.GetSender())); ok {
				add(pullEvent(repo, info, TypePullClosed, m, "", pr.GetClosedAt().Time))
			}
			if pr.GetMerged() {
				by := pr.GetMergedBy()
				if by == nil {
					by = ev.GetSender()
				}
				if m, ok := member(userActor(by)); ok {
					add(pullEvent(repo, info, TypePullMerged, m, "", pr.GetMergedAt().Time))
				}
			}
		case "assigned", "review_requested":
			subject := ev.GetAssignee()
			typ := TypePullAssigned
			if ev.GetAction() == "review_requested" {
				// A team's request has requested_team and no
				// requested_reviewer: not a member (as in the poll).
				subject, typ = ev.GetRequestedReviewer(), TypePullReviewRequested
			}
			m, ok := member(userActor(ev.GetSender()))
			sm, ok2 := member(userActor(subject))
			if ok && ok2 {
				// The event's time is not in the payload; the PR's
				// updated_at is when it was made.
				add(pullEvent(repo, info, typ, m, sm.Username, pr.GetUpdatedAt().Time))
				res.Members = append(res.Members, sm)
			}
		}
	case *gh.PullRequestReviewEvent:
		repo, rv := repoOf(ev.Repo), ev.GetReview()
		state := strings.ToUpper(rv.GetState())
		if ev.GetAction() != "submitted" || (state == "COMMENTED" && rv.GetBody() == "") {
			return nil, nil
		}
		if m, ok := member(userActor(rv.GetUser())); ok {
			a := pullEvent(repo, prFromWebhook(ev.GetPullRequest()), TypePullReviewed, m, "", rv.GetSubmittedAt().Time)
			a.Body, a.URL = clean(rv.GetBody()), rv.GetHTMLURL()
			a.Attributes[attrReviewState] = state
			add(a)
		}
	case *gh.PullRequestReviewCommentEvent:
		if ev.GetAction() != "created" && ev.GetAction() != "edited" {
			return nil, nil
		}
		c, pr := ev.GetComment(), ev.GetPullRequest()
		if m, ok := member(userActor(c.GetUser())); ok {
			add(commentActivity(TypePullThreadComment, commentInfo{c.GetNodeID(), c.GetBody(), c.GetHTMLURL(), c.GetCreatedAt().Time},
				pr.GetNodeID(), "", pr.GetHTMLURL(), m))
		}
	case *gh.IssueCommentEvent:
		if ev.GetAction() != "created" && ev.GetAction() != "edited" {
			return nil, nil
		}
		repo, c, is := repoOf(ev.Repo), ev.GetComment(), ev.GetIssue()
		typ := TypeIssueComment
		if is.IsPullRequest() {
			typ = TypePullComment
		}
		if m, ok := member(userActor(c.GetUser())); ok {
			add(commentActivity(typ, commentInfo{c.GetNodeID(), c.GetBody(), c.GetHTMLURL(), c.GetCreatedAt().Time}, is.GetNodeID(), "", repo.URL, m))
		}
	case *gh.DiscussionEvent:
		repo, d := repoOf(ev.Repo), ev.GetDiscussion()
		if ev.GetAction() == "answered" {
			// The chosen answer, a discussion comment: the poll's row of
			// that comment, with isAnswer and the answer's score.
			// go-github's DiscussionEvent has no field for it.
			var p struct {
				Answer *gh.CommentDiscussion `json:"answer"`
			}
			if err := json.Unmarshal(payload, &p); err != nil || p.Answer == nil {
				return nil, nil
			}
			c := p.Answer
			if m, ok := member(userActor(c.GetUser())); ok {
				add(discussionComment(repo, commentInfo{c.GetNodeID(), c.GetBody(), c.GetHTMLURL(), c.GetCreatedAt().Time}, d.GetNodeID(), "", true, m))
			}
			return res, nil
		}
		if ev.GetAction() != "created" && ev.GetAction() != "edited" {
			return nil, nil
		}
		var cat *category
		if c := d.GetDiscussionCategory(); c != nil {
			cat = &category{ID: c.GetNodeID(), Name: c.GetName(), Slug: c.GetSlug(), Emoji: c.GetEmoji(), Description: c.GetDescription(), IsAnswerable: c.GetIsAnswerable()}
		}
		if m, ok := member(userActor(d.GetUser())); ok {
			add(discussionStarted(repo, d.GetNodeID(), d.GetTitle(), d.GetBody(), d.GetHTMLURL(), d.GetCreatedAt().Time, cat, m))
		}
	case *gh.DiscussionCommentEvent:
		if ev.GetAction() != "created" && ev.GetAction() != "edited" {
			return nil, nil
		}
		repo, c := repoOf(ev.Repo), ev.GetComment()
		// A reply's parent_id is the parent comment's database id, which
		// the poll's node ids cannot be matched with: replies point to the
		// discussion until a poll sets their parent comment.
		if m, ok := member(userActor(c.GetUser())); ok {
			add(discussionComment(repo, commentInfo{c.GetNodeID(), c.GetBody(), c.GetHTMLURL(), c.GetCreatedAt().Time},
				ev.GetDiscussion().GetNodeID(), "", false, m))
		}
	case *gh.StarEvent:
		repo := repoOf(ev.Repo)
		m, ok := member(userActor(ev.GetSender()))
		if !ok {
			return nil, nil
		}
		switch ev.GetAction() {
		case "created":
			if ev.StarredAt == nil {
				return nil, nil
			}
			at := ev.GetStarredAt().Time
			a := newActivity(TypeStar, starSourceID(m.Username, at), at, m, repo.URL)
			a.URL = repo.URL
			add(a)
		case "deleted":
			sum := sha256.Sum256([]byte(m.Username + "|unstar|" + strconv.FormatInt(receivedAt.Unix(), 10) + "|" + Platform))
			a := newActivity(TypeUnstar, hex.EncodeToString(sum[:]), receivedAt, m, repo.URL)
			a.URL = repo.URL
			add(a)
		}
	case *gh.ForkEvent:
		repo, f := repoOf(ev.Repo), ev.GetForkee()
		if m, ok := member(userActor(f.GetOwner())); ok {
			a := newActivity(TypeFork, f.GetNodeID(), f.GetCreatedAt().Time, m, repo.URL)
			a.URL = f.GetHTMLURL()
			add(a)
		}
	default:
		return nil, nil
	}
	return res, nil
}

func repoOf(r *gh.Repository) Repo {
	owner, name, _ := strings.Cut(r.GetFullName(), "/")
	return Repo{Owner: owner, Name: name, URL: siteURL + "/" + owner + "/" + name}
}

// userActor is a webhook's user as an actor: login, id, links and type,
// none of the profile (which the poll fills in).
func userActor(u *gh.User) *actor {
	if u == nil {
		return nil
	}
	return &actor{Typename: u.GetType(), Login: u.GetLogin(), DatabaseID: u.GetID(), URL: u.GetHTMLURL(), AvatarURL: u.GetAvatarURL()}
}

func prFromWebhook(pr *gh.PullRequest) prInfo {
	state := pr.GetState()
	if pr.GetMerged() {
		state = "merged"
	}
	labels := []string{}
	for _, l := range pr.Labels {
		labels = append(labels, l.GetName())
	}
	return prInfo{ID: pr.GetNodeID(), Title: pr.GetTitle(), Body: pr.GetBody(), URL: pr.GetHTMLURL(), State: state,
		AuthorAssociation: pr.GetAuthorAssociation(), Additions: pr.GetAdditions(), Deletions: pr.GetDeletions(),
		ChangedFiles: pr.GetChangedFiles(), Labels: labels, CreatedAt: pr.GetCreatedAt().Time}
}
