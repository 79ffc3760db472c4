package github

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/crowdflow/crowdflow/integrations"
)

// ProcessStream reads one page of one stream.
func (s *Service) ProcessStream(ctx context.Context, run *integrations.RunContext, st integrations.Stream) (*integrations.StreamResult, error) {
	if s.appErr != nil && run.Integration.Token == "" {
		return nil, integrations.Permanent(s.appErr)
	}
	var m streamMeta
	if err := st.DecodeMetadata(&m); err != nil {
		return nil, integrations.Permanent(fmt.Errorf("github stream %s: metadata: %w", st.Name, err))
	}
	cr, err := s.credFor(run.Integration)
	if err != nil {
		return nil, err
	}
	p := &page{s: s, cr: cr, m: m, name: st.Name, res: &integrations.StreamResult{}}
	switch st.Name {
	case streamStargazers:
		err = p.stargazers(ctx)
	case streamForks:
		err = p.forks(ctx)
	case streamIssues, streamPulls, streamDiscussions:
		err = p.items(ctx)
	case streamIssueComments, streamPullComments:
		err = p.comments(ctx)
	case streamReviewThreads:
		err = p.reviewThreads(ctx)
	case streamThreadComments:
		err = p.threadComments(ctx)
	case streamTimeline:
		err = p.timeline(ctx)
	case streamDiscussionComms:
		err = p.discussionComments(ctx)
	case streamReplies:
		err = p.replies(ctx)
	default:
		return nil, integrations.Permanent(fmt.Errorf("github: unknown stream %q", st.Name))
	}
	var qe *queryError
	if errors.As(err, &qe) && qe.unavailable() {
		// The repository (or the parent node) went away or out of reach
		// during the run: pass the stream over; the next run's probe moves
		// the repository to unavailableRepos.
		return &integrations.StreamResult{Skipped: qe.Error()}, nil
	}
	if err != nil {
		return nil, err
	}
	return p.res, nil
}

// page is the work on one stream page.
type page struct {
	s    *Service
	cr   cred
	m    streamMeta
	name string
	res  *integrations.StreamResult
}

func (p *page) repoVars() map[string]any {
	return map[string]any{"owner": p.m.Repo.Owner, "name": p.m.Repo.Name, "cursor": nullable(p.m.Cursor)}
}

func (p *page) nodeVars() map[string]any {
	return map[string]any{"id": p.m.Node, "cursor": nullable(p.m.Cursor)}
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// oldest records the page's oldest item for IsProcessingFinished.
func (p *page) oldest(t time.Time) {
	if !t.IsZero() && (p.res.LastRecordTimestamp.IsZero() || t.Before(p.res.LastRecordTimestamp)) {
		p.res.LastRecordTimestamp = t
	}
}

// next queues the next page of the same stream.
func (p *page) next(cursor string) {
	m := p.m
	m.Cursor = cursor
	st := integrations.NewStream(p.name, m)
	p.res.NextPage = &st
}

// child queues a stream of a parent's children, starting at their first
// page (and inheriting the check's stop time).
func (p *page) child(name string, m streamMeta) {
	m.Repo, m.Since = p.m.Repo, p.m.Since
	p.res.NewStreams = append(p.res.NewStreams, integrations.NewStream(name, m))
}

// changed says whether an item updated at t is newer than what the last
// run saw (always, in an onboarding).
func (p *page) changed(t time.Time) bool {
	return p.m.Since == nil || !t.Before(*p.m.Since)
}

func (p *page) add(a integrations.Activity) { p.res.Activities = append(p.res.Activities, a) }

func (p *page) stargazers(ctx context.Context) error {
	var d repoListData
	if err := p.s.c.query(ctx, p.cr, "Stargazers", queryStargazers, p.repoVars(), &d); err != nil {
		return err
	}
	if d.Repository == nil || d.Repository.Stargazers == nil {
		return nil
	}
	c := d.Repository.Stargazers
	for _, e := range c.Edges {
		p.oldest(e.StarredAt)
		if mem, ok := member(e.Node); ok {
			a := newActivity(TypeStar, starSourceID(e.Node.Login, e.StarredAt), e.StarredAt, mem, p.m.Repo.URL)
			a.URL = p.m.Repo.URL
			p.add(a)
		}
	}
	if c.PageInfo.HasNextPage {
		p.next(c.PageInfo.EndCursor)
	}
	return nil
}

func (p *page) forks(ctx context.Context) error {
	var d repoListData
	if err := p.s.c.query(ctx, p.cr, "Forks", queryForks, p.repoVars(), &d); err != nil {
		return err
	}
	if d.Repository == nil || d.Repository.Forks == nil {
		return nil
	}
	c := d.Repository.Forks
	for _, f := range c.Nodes {
		p.oldest(f.CreatedAt)
		if mem, ok := member(f.Owner); ok {
			a := newActivity(TypeFork, f.ID, f.CreatedAt, mem, p.m.Repo.URL)
			a.URL = f.URL
			p.add(a)
		}
	}
	if c.PageInfo.HasNextPage {
		p.next(c.PageInfo.EndCursor)
	}
	return nil
}

// items reads a page of issues, pull requests or discussions, most
// recently updated first, and queues the children of the changed ones.
func (p *page) items(ctx context.Context) error {
	var d repoListData
	var conn **issueConn
	switch p.name {
	case streamIssues:
		if err := p.s.c.query(ctx, p.cr, "Issues", queryIssues, p.repoVars(), &d); err != nil {
			return err
		}
		if d.Repository != nil {
			conn = &d.Repository.Issues
		}
	case streamPulls:
		if err := p.s.c.query(ctx, p.cr, "Pulls", queryPulls, p.repoVars(), &d); err != nil {
			return err
		}
		if d.Repository != nil {
			conn = &d.Repository.PullRequests
		}
	case streamDiscussions:
		if err := p.s.c.query(ctx, p.cr, "Discussions", queryDiscussions, p.repoVars(), &d); err != nil {
			return err
		}
		if d.Repository != nil {
			conn = &d.Repository.Discussions
		}
	}
	if conn == nil || *conn == nil {
		return nil
	}
	c := *conn
	repo := p.m.Repo
	for _, it := range c.Nodes {
		p.oldest(it.UpdatedAt)
		mem, ok := member(it.Author)
		switch p.name {
		case streamIssues:
			if ok {
				p.add(issueOpened(repo, it.ID, it.Title, it.Body, it.URL, it.State, it.CreatedAt, mem))
			}
			p.inlineComments(it, TypeIssueComment, streamIssueComments)
		case streamPulls:
			if ok {
				p.add(pullOpened(repo, prFrom(it), mem))
			}
			if !p.changed(it.UpdatedAt) {
				continue
			}
			p.inlineComments(it, TypePullComment, streamPullComments)
			if it.ReviewThreads.TotalCount > 0 {
				p.child(streamReviewThreads, streamMeta{Node: it.ID, Number: it.Number, URL: it.URL})
			}
			if it.TimelineItems != nil && it.TimelineItems.TotalCount > 0 {
				p.child(streamTimeline, streamMeta{Node: it.ID, Number: it.Number, URL: it.URL})
			}
		case streamDiscussions:
			if ok {
				p.add(discussionStarted(repo, it.ID, it.Title, it.Body, it.URL, it.CreatedAt, it.Category, mem))
			}
			if p.changed(it.UpdatedAt) && it.Comments.TotalCount > 0 {
				p.child(streamDiscussionComms, streamMeta{Node: it.ID, Number: it.Number, URL: it.URL})
			}
		}
	}
	if c.PageInfo.HasNextPage {
		p.next(c.PageInfo.EndCursor)
	}
	return nil
}

// inlineComments adds the newest comments that came with an issue or a
// PR, and queues a stream for the older ones when there are more (and the
// item changed since the last run, in a check).
func (p *page) inlineComments(it *issueNode, typ, stream string) {
	var oldest time.Time
	for _, cm := range it.Comments.Nodes {
		if oldest.IsZero() || cm.CreatedAt.Before(oldest) {
			oldest = cm.CreatedAt
		}
		if mem, ok := member(cm.Author); ok {
			p.add(commentActivity(typ, commentInfo{cm.ID, cm.Body, cm.URL, cm.CreatedAt}, it.ID, "", p.m.Repo.URL, mem))
		}
	}
	// In a check, older comments are read only when even the oldest of
	// these is new.
	if it.Comments.PageInfo.HasPreviousPage && p.changed(it.UpdatedAt) && p.changed(oldest) {
		p.child(stream, streamMeta{Node: it.ID, Number: it.Number, URL: it.URL, Cursor: it.Comments.PageInfo.StartCursor})
	}
}

func prFrom(it *issueNode) prInfo {
	return prInfo{ID: it.ID, Title: it.Title, Body: it.Body, URL: it.URL, State: it.State, AuthorAssociation: it.AuthorAssociation,
		Additions: it.Additions, Deletions: it.Deletions, ChangedFiles: it.ChangedFiles, Labels: labelNames(it.Labels), CreatedAt: it.CreatedAt}
}

// comments reads a page of an issue's or a pull request's comments,
// newest first.
func (p *page) comments(ctx context.Context) error {
	typ, op, doc := TypeIssueComment, "IssueComments", queryIssueComments
	if p.name == streamPullComments {
		typ, op, doc = TypePullComment, "PullComments", queryPullComments
	}
	var d nodeData
	if err := p.s.c.query(ctx, p.cr, op, doc, p.nodeVars(), &d); err != nil {
		return err
	}
	if d.Node == nil || d.Node.Comments == nil {
		return nil
	}
	c := d.Node.Comments
	for _, cm := range c.Nodes {
		p.oldest(cm.CreatedAt)
		if mem, ok := member(cm.Author); ok {
			p.add(commentActivity(typ, commentInfo{cm.ID, cm.Body, cm.URL, cm.CreatedAt}, p.m.Node, "", p.m.Repo.URL, mem))
		}
	}
	if c.PageInfo.HasPreviousPage {
		p.next(c.PageInfo.StartCursor)
	}
	return nil
}

func (p *page) reviewThreads(ctx context.Context) error {
	var d nodeData
	if err := p.s.c.query(ctx, p.cr, "ReviewThreads", queryReviewThreads, p.nodeVars(), &d); err != nil {
		return err
	}
	if d.Node == nil || d.Node.ReviewThreads == nil {
		return nil
	}
	c := d.Node.ReviewThreads
	for _, th := range c.Nodes {
		if th.Comments.TotalCount > 0 {
			p.child(streamThreadComments, streamMeta{Node: th.ID, Parent: p.m.Node, URL: p.m.URL, Number: p.m.Number})
		}
	}
	if c.PageInfo.HasNextPage {
		p.next(c.PageInfo.EndCursor)
	}
	return nil
}

// threadComments: a review thread's comments point to the pull request
// (sourceParentId) and are in its channel, the PR's URL, as in crowd.dev.
func (p *page) threadComments(ctx context.Context) error {
	var d nodeData
	if err := p.s.c.query(ctx, p.cr, "ThreadComments", queryThreadComments, p.nodeVars(), &d); err != nil {
		return err
	}
	if d.Node == nil || d.Node.Comments == nil {
		return nil
	}
	c := d.Node.Comments
	for _, cm := range c.Nodes {
		p.oldest(cm.CreatedAt)
		if mem, ok := member(cm.Author); ok {
			p.add(commentActivity(TypePullThreadComment, commentInfo{cm.ID, cm.Body, cm.URL, cm.CreatedAt}, p.m.Parent, "", p.m.URL, mem))
		}
	}
	if c.PageInfo.HasPreviousPage {
		p.next(c.PageInfo.StartCursor)
	}
	return nil
}

func (p *page) timeline(ctx context.Context) error {
	var d nodeData
	if err := p.s.c.query(ctx, p.cr, "Timeline", queryTimeline, p.nodeVars(), &d); err != nil {
		return err
	}
	if d.Node == nil || d.Node.TimelineItems == nil {
		return nil
	}
	pr := prFrom(&d.Node.issueNode)
	c := d.Node.TimelineItems
	for _, ev := range c.Nodes {
		p.oldest(ev.CreatedAt)
		switch ev.Typename {
		case "AssignedEvent":
			p.assignment(pr, TypePullAssigned, ev.Actor, []*actor{ev.Assignee}, ev.CreatedAt)
		case "ReviewRequestedEvent":
			// A team (or a mannequin) is not a member: only a user's
			// request counts. Expanding a team to its members would cost
			// team members x timeline items points per page (100 points
			// for 100 x 100), so it is left out.
			p.assignment(pr, TypePullReviewRequested, ev.Actor, []*actor{ev.RequestedReviewer}, ev.CreatedAt)
		case "PullRequestReview":
			at := ev.CreatedAt
			if ev.SubmittedAt != nil {
				at = *ev.SubmittedAt
			}
			if ev.State == "COMMENTED" && ev.Body == "" {
				// A review that only carries thread comments: those are
				// activities of their own (as the webhook rule skips it).
				continue
			}
			if mem, ok := member(ev.Author); ok {
				a := pullEvent(p.m.Repo, pr, TypePullReviewed, mem, "", at)
				a.Body, a.URL = clean(ev.Body), ev.URL
				a.Attributes[attrReviewState] = ev.State
				p.add(a)
			}
		case "MergedEvent":
			if mem, ok := member(ev.Actor); ok {
				p.add(pullEvent(p.m.Repo, pr, TypePullMerged, mem, "", ev.CreatedAt))
			}
		case "ClosedEvent":
			if mem, ok := member(ev.Actor); ok {
				p.add(pullEvent(p.m.Repo, pr, TypePullClosed, mem, "", ev.CreatedAt))
			}
		}
	}
	if c.PageInfo.HasPreviousPage {
		p.next(c.PageInfo.StartCursor)
	}
	return nil
}

// assignment adds one activity per assignee or reviewer; the actor is the
// activity's member, the subject a member too.
func (p *page) assignment(pr prInfo, typ string, by *actor, subjects []*actor, at time.Time) {
	mem, ok := member(by)
	if !ok {
		return
	}
	for _, s := range subjects {
		sm, ok := member(s)
		if !ok {
			continue
		}
		p.add(pullEvent(p.m.Repo, pr, typ, mem, sm.Username, at))
		p.res.Members = append(p.res.Members, sm)
	}
}

func (p *page) discussionComments(ctx context.Context) error {
	var d nodeData
	if err := p.s.c.query(ctx, p.cr, "DiscussionComments", queryDiscussionComments, p.nodeVars(), &d); err != nil {
		return err
	}
	if d.Node == nil || d.Node.Comments == nil {
		return nil
	}
	c := d.Node.Comments
	for _, cm := range c.Nodes {
		p.oldest(cm.CreatedAt)
		if mem, ok := member(cm.Author); ok {
			p.add(discussionComment(p.m.Repo, commentInfo{cm.ID, cm.Body, cm.URL, cm.CreatedAt}, p.m.Node, "", cm.IsAnswer, mem))
		}
		if cm.Replies == nil {
			continue
		}
		p.addReplies(cm.ID, cm.Replies)
		if cm.Replies.PageInfo.HasNextPage {
			// More than 100 replies: the rest in a stream of their own.
			p.child(streamReplies, streamMeta{Node: cm.ID, Cursor: cm.Replies.PageInfo.EndCursor})
		}
	}
	if c.PageInfo.HasPreviousPage {
		p.next(c.PageInfo.StartCursor)
	}
	return nil
}

func (p *page) addReplies(parent string, c *commentConn) {
	for _, r := range c.Nodes {
		if mem, ok := member(r.Author); ok {
			p.add(discussionComment(p.m.Repo, commentInfo{r.ID, r.Body, r.URL, r.CreatedAt}, parent, "", false, mem))
		}
	}
}

func (p *page) replies(ctx context.Context) error {
	var d nodeData
	if err := p.s.c.query(ctx, p.cr, "Replies", queryReplies, p.nodeVars(), &d); err != nil {
		return err
	}
	if d.Node == nil || d.Node.Replies == nil {
		return nil
	}
	p.addReplies(p.m.Node, d.Node.Replies)
	if d.Node.Replies.PageInfo.HasNextPage {
		p.next(d.Node.Replies.PageInfo.EndCursor)
	}
	return nil
}
