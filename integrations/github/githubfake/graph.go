package githubfake

import (
	"encoding/base64"
	"fmt"
	"sort"
	"strings"
	"time"
)

// graph is the world as GraphQL objects, built once per world version.
type graph struct {
	users map[string]object // by login, bots as "name[bot]" too
	repos map[string]*repoEntry
	nodes map[string]object // node(id:)
	seq   int64
}

type repoEntry struct {
	obj         object
	unavailable string
}

// categories are the discussion categories every fake repository has.
var categories = map[string]object{
	"General": {"__typename": "DiscussionCategory", "name": "General", "slug": "general", "emoji": ":speech_balloon:", "isAnswerable": false, "description": "Chat about anything"},
	"Q&A":     {"__typename": "DiscussionCategory", "name": "Q&A", "slug": "q-a", "emoji": ":pray:", "isAnswerable": true, "description": "Ask the community for help"},
	"Ideas":   {"__typename": "DiscussionCategory", "name": "Ideas", "slug": "ideas", "emoji": ":bulb:", "isAnswerable": false, "description": "Share ideas for new features"},
}

// nodeID makes a GitHub-style global id: a type prefix and an opaque,
// URL-safe tail (GitHub's look like "I_kwDOAbc12s5xYz").
func nodeID(prefix, key string) string {
	return prefix + "_kwDO" + strings.TrimRight(base64.URLEncoding.EncodeToString([]byte(key)), "=")
}

func buildGraph(w *World) *graph {
	g := &graph{users: map[string]object{}, repos: map[string]*repoEntry{}, nodes: map[string]object{}}
	for i, u := range w.Users {
		login := u.Login
		typename := "User"
		if u.Bot {
			typename = "Bot"
			if !strings.HasSuffix(login, "[bot]") {
				login += "[bot]"
			}
		}
		id := nodeID("U", fmt.Sprintf("user/%d", i))
		o := object{
			"__typename": typename, "id": id, "login": login, "url": "https://github.com/" + login,
			"avatarUrl": fmt.Sprintf("https://avatars.githubusercontent.com/u/%d?v=4", 1000+i), "createdAt": u.CreatedAt,
			"databaseId": 1000 + i,
		}
		if !u.Bot {
			o["name"] = nullIfEmpty(u.Name)
			o["email"] = u.Email // "" when not public, never null
			o["company"] = nullIfEmpty(u.Company)
			o["bio"] = nullIfEmpty(u.Bio)
			o["location"] = nullIfEmpty(u.Location)
			o["websiteUrl"] = nullIfEmpty(u.WebsiteURL)
			o["isHireable"] = u.IsHireable
			followers := u.Followers
			o["followers"] = fieldFunc(func(map[string]any) (any, error) { return &connection{total: followers}, nil })
		}
		g.users[u.Login] = o
		g.users[login] = o
		g.nodes[id] = o
	}
	for ri := range w.Repos {
		g.addRepo(ri, &w.Repos[ri])
	}
	return g
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// actor is an author/actor value: null for a deleted account (ghost), a
// ghost-like placeholder for a login the world does not know.
func (g *graph) actor(login string) any {
	if login == "" {
		return nil
	}
	if u, ok := g.users[login]; ok {
		return u
	}
	return object{"__typename": "User", "login": login, "url": "https://github.com/" + login}
}

func (g *graph) addRepo(ri int, r *Repo) {
	full := r.Owner + "/" + r.Name
	repoURL := "https://github.com/" + full
	id := nodeID("R", "repo/"+full)
	repo := object{
		"__typename": "Repository", "id": id, "name": r.Name, "nameWithOwner": full, "url": repoURL,
		"createdAt": r.CreatedAt, "owner": object{"__typename": "Organization", "login": r.Owner, "url": "https://github.com/" + r.Owner},
		"stargazerCount": len(r.Stars), "forkCount": len(r.Forks), "databaseId": 500000 + ri,
	}
	g.repos[strings.ToLower(full)] = &repoEntry{obj: repo, unavailable: r.Unavailable}
	g.nodes[id] = repo

	var stars []object
	for i, s := range r.Stars {
		stars = append(stars, object{"key": fmt.Sprintf("s%d", i), "node": g.actor(s.User), "starredAt": s.At, "sort": s.At})
	}
	repo["stargazers"] = sortable(stars, "STARRED_AT")

	var forks []object
	for i, f := range r.Forks {
		fid := nodeID("R", fmt.Sprintf("fork/%s/%d", full, i))
		fo := object{"__typename": "Repository", "id": fid, "name": r.Name, "nameWithOwner": f.Owner + "/" + r.Name,
			"url": "https://github.com/" + f.Owner + "/" + r.Name, "createdAt": f.CreatedAt, "owner": g.actor(f.Owner)}
		g.nodes[fid] = fo
		forks = append(forks, object{"key": fid, "node": fo, "sort": f.CreatedAt, "created": f.CreatedAt})
	}
	repo["forks"] = sortable(forks, "CREATED_AT")

	var issues []object
	for _, is := range r.Issues {
		iid := nodeID("I", fmt.Sprintf("issue/%s/%d", full, is.Number))
		url := fmt.Sprintf("%s/issues/%d", repoURL, is.Number)
		updated := latest(is.UpdatedAt, is.CreatedAt, is.Comments)
		o := object{"__typename": "Issue", "id": iid, "number": is.Number, "title": is.Title, "body": is.Body, "bodyText": is.Body,
			"url": url, "state": orDefault(is.State, "OPEN"), "createdAt": is.CreatedAt, "updatedAt": updated,
			"author": g.actor(is.Author), "repository": repo, "labels": labels(is.Labels),
			"comments": g.comments("IC", iid, url+"#issuecomment-", is.Comments, "IssueComment")}
		g.nodes[iid] = o
		issues = append(issues, object{"key": iid, "node": o, "created": is.CreatedAt, "updated": updated})
	}
	repo["issues"] = issueOrdered(issues)

	var pulls []object
	for _, p := range r.Pulls {
		pid := nodeID("PR", fmt.Sprintf("pull/%s/%d", full, p.Number))
		url := fmt.Sprintf("%s/pull/%d", repoURL, p.Number)
		updated := latest(p.UpdatedAt, p.CreatedAt, p.Comments)
		for _, ev := range p.Events {
			if ev.At.After(updated) {
				updated = ev.At
			}
		}
		for _, th := range p.ReviewThreads {
			updated = latest(updated, updated, th)
		}
		o := object{"__typename": "PullRequest", "id": pid, "number": p.Number, "title": p.Title, "body": p.Body, "bodyText": p.Body,
			"url": url, "state": orDefault(p.State, "OPEN"), "createdAt": p.CreatedAt, "updatedAt": updated,
			"author": g.actor(p.Author), "repository": repo, "labels": labels(p.Labels),
			"additions": p.Additions, "deletions": p.Deletions, "changedFiles": p.ChangedFiles,
			"authorAssociation": "CONTRIBUTOR", "merged": p.State == "MERGED",
			"comments": g.comments("IC", pid, url+"#issuecomment-", p.Comments, "IssueComment")}
		var threads []object
		for ti, th := range p.ReviewThreads {
			tid := nodeID("PRRT", fmt.Sprintf("thread/%s/%d/%d", full, p.Number, ti))
			to := object{"__typename": "PullRequestReviewThread", "id": tid, "pullRequest": o,
				"comments": g.comments("PRRC", tid, url+"#discussion_r", th, "PullRequestReviewComment")}
			g.nodes[tid] = to
			threads = append(threads, object{"key": tid, "node": to})
		}
		o["reviewThreads"] = plain(threads)
		var events []object
		for ei, ev := range p.Events {
			eo := g.event(full, p.Number, ei, ev, o, url)
			events = append(events, object{"key": eo["id"].(string), "node": eo, "itemType": itemType(ev.Type)})
		}
		o["timelineItems"] = fieldFunc(func(args map[string]any) (any, error) {
			want := map[string]bool{}
			if l, ok := args["itemTypes"].([]any); ok {
				for _, t := range l {
					want[fmt.Sprint(t)] = true
				}
			}
			var out []object
			for _, e := range events {
				if len(want) == 0 || want[e["itemType"].(string)] {
					out = append(out, e)
				}
			}
			return &connection{edges: out}, nil
		})
		g.nodes[pid] = o
		pulls = append(pulls, object{"key": pid, "node": o, "created": p.CreatedAt, "updated": updated})
	}
	repo["pullRequests"] = issueOrdered(pulls)

	var discussions []object
	for _, d := range r.Discussions {
		did := nodeID("D", fmt.Sprintf("discussion/%s/%d", full, d.Number))
		url := fmt.Sprintf("%s/discussions/%d", repoURL, d.Number)
		updated := d.UpdatedAt
		var comments []object
		for ci, c := range d.Comments {
			cid := nodeID("DC", fmt.Sprintf("dc/%s/%d/%d", full, d.Number, ci))
			if c.CreatedAt.After(updated) {
				updated = c.CreatedAt
			}
			updated = latest(updated, updated, c.Replies)
			co := object{"__typename": "DiscussionComment", "id": cid, "body": c.Body, "bodyText": c.Body, "isAnswer": c.IsAnswer,
				"createdAt": c.CreatedAt, "author": g.actor(c.Author), "url": fmt.Sprintf("%s#discussioncomment-%d", url, g.next()),
				"replies": g.comments("DC", cid, url+"#discussioncomment-", c.Replies, "DiscussionComment")}
			g.nodes[cid] = co
			comments = append(comments, object{"key": cid, "node": co})
		}
		if updated.Before(d.CreatedAt) {
			updated = d.CreatedAt
		}
		cat := categories[orDefault(d.Category, "General")]
		if cat == nil {
			cat = categories["General"]
		}
		cat = withID(cat, nodeID("DIC", full+"/"+cat["slug"].(string)))
		o := object{"__typename": "Discussion", "id": did, "number": d.Number, "title": d.Title, "body": d.Body, "bodyText": d.Body,
			"url": url, "createdAt": d.CreatedAt, "updatedAt": updated, "author": g.actor(d.Author), "category": cat,
			"repository": repo, "comments": plain(comments)}
		g.nodes[did] = o
		discussions = append(discussions, object{"key": did, "node": o, "created": d.CreatedAt, "updated": updated})
	}
	repo["discussions"] = issueOrdered(discussions)
}

func withID(o object, id string) object {
	c := object{"id": id}
	for k, v := range o {
		c[k] = v
	}
	return c
}

func (g *graph) next() int64 {
	g.seq++
	return 1000000 + g.seq
}

// comments builds a comment connection, oldest first as GitHub lists them.
func (g *graph) comments(prefix, parent, urlBase string, cs []Comment, typename string) fieldFunc {
	var edges []object
	for i, c := range cs {
		dbID := g.next()
		id := nodeID(prefix, fmt.Sprintf("%s/%d", parent, i))
		o := object{"__typename": typename, "id": id, "body": c.Body, "bodyText": c.Body, "createdAt": c.CreatedAt,
			"author": g.actor(c.Author), "url": fmt.Sprintf("%s%d", urlBase, dbID), "databaseId": dbID,
			"authorAssociation": "CONTRIBUTOR"}
		g.nodes[id] = o
		edges = append(edges, object{"key": id, "node": o})
	}
	return plain(edges)
}

func (g *graph) event(full string, number, i int, ev Event, pr object, prURL string) object {
	prefix := map[string]string{EventAssigned: "AE", EventReviewRequested: "RRE", EventReviewed: "PRR", EventMerged: "ME", EventClosed: "CE"}[ev.Type]
	id := nodeID(prefix, fmt.Sprintf("event/%s/%d/%d", full, number, i))
	o := object{"__typename": ev.Type, "id": id, "createdAt": ev.At, "pullRequest": pr}
	switch ev.Type {
	case EventAssigned:
		o["actor"], o["assignee"] = g.actor(ev.Actor), g.actor(ev.Subject)
	case EventReviewRequested:
		o["actor"], o["requestedReviewer"] = g.actor(ev.Actor), g.actor(ev.Subject)
	case EventReviewed:
		o["author"], o["body"], o["bodyText"], o["state"] = g.actor(ev.Actor), ev.Body, ev.Body, orDefault(ev.State, "COMMENTED")
		o["submittedAt"] = ev.At
		o["url"] = fmt.Sprintf("%s#pullrequestreview-%d", prURL, g.next())
	case EventMerged, EventClosed:
		o["actor"] = g.actor(ev.Actor)
	}
	g.nodes[id] = o
	return o
}

func itemType(typename string) string {
	switch typename {
	case EventAssigned:
		return "ASSIGNED_EVENT"
	case EventReviewRequested:
		return "REVIEW_REQUESTED_EVENT"
	case EventReviewed:
		return "PULL_REQUEST_REVIEW"
	case EventMerged:
		return "MERGED_EVENT"
	case EventClosed:
		return "CLOSED_EVENT"
	}
	return ""
}

func labels(names []string) fieldFunc {
	var edges []object
	for _, n := range names {
		edges = append(edges, object{"key": "label/" + n, "node": object{"__typename": "Label", "name": n, "color": "ededed"}})
	}
	return plain(edges)
}

func plain(edges []object) fieldFunc {
	return func(map[string]any) (any, error) { return &connection{edges: edges}, nil }
}

// sortable is a connection ordered by "sort" (its only order field), oldest
// first unless orderBy says DESC.
func sortable(edges []object, _ string) fieldFunc {
	return func(args map[string]any) (any, error) {
		out := append([]object(nil), edges...)
		desc := false
		if ob, ok := args["orderBy"].(map[string]any); ok {
			desc = ob["direction"] == "DESC"
		}
		sort.SliceStable(out, func(i, j int) bool {
			a, b := out[i]["sort"].(time.Time), out[j]["sort"].(time.Time)
			if desc {
				return a.After(b)
			}
			return a.Before(b)
		})
		return &connection{edges: out}, nil
	}
}

// issueOrdered is a connection of issues, PRs or discussions: orderBy
// CREATED_AT or UPDATED_AT, ASC or DESC (by default oldest created
// first), filtered by states when asked.
func issueOrdered(edges []object) fieldFunc {
	return func(args map[string]any) (any, error) {
		var out []object
		states := map[string]bool{}
		if l, ok := args["states"].([]any); ok {
			for _, s := range l {
				states[fmt.Sprint(s)] = true
			}
		}
		for _, e := range edges {
			if len(states) == 0 || states[fmt.Sprint(e["node"].(object)["state"])] {
				out = append(out, e)
			}
		}
		field, desc := "created", false
		if ob, ok := args["orderBy"].(map[string]any); ok {
			if ob["field"] == "UPDATED_AT" {
				field = "updated"
			}
			desc = ob["direction"] == "DESC"
		}
		sort.SliceStable(out, func(i, j int) bool {
			a, b := out[i][field].(time.Time), out[j][field].(time.Time)
			if desc {
				return a.After(b)
			}
			return a.Before(b)
		})
		return &connection{edges: out}, nil
	}
}

func latest(t, created time.Time, cs []Comment) time.Time {
	if t.Before(created) {
		t = created
	}
	for _, c := range cs {
		if c.CreatedAt.After(t) {
			t = c.CreatedAt
		}
	}
	return t
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// IssueNodeID is the node id the fake gives an issue, for tests that send
// webhooks about the fake's items.
func IssueNodeID(owner, name string, number int) string {
	return nodeID("I", fmt.Sprintf("issue/%s/%s/%d", owner, name, number))
}

// PullNodeID is the node id of a pull request.
func PullNodeID(owner, name string, number int) string {
	return nodeID("PR", fmt.Sprintf("pull/%s/%s/%d", owner, name, number))
}

// CommentNodeID is the node id of the index-th comment of an issue or
// pull request.
func CommentNodeID(parentNodeID string, index int) string {
	return nodeID("IC", fmt.Sprintf("%s/%d", parentNodeID, index))
}
