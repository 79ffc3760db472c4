package github

import "time"

// The GraphQL documents the integration sends. Every one is checked
// against GitHub's schema in queries_test.go (TestQueriesAgainstSchema),
// and the fake validates them again on every request.
//
// Page sizes keep each query at a few points: lists of 50-100 items, with
// nested connections asked only for their totalCount (a child stream pages
// them when there is anything to read) or bounded to 10: an issue's or a
// PR's 10 newest comments come with it (most have fewer), and a child
// stream reads the older ones. That costs 7-9 points per 50 issues instead
// of a request and a point per issue with comments.

// Fragments shared by the queries. A member is an Actor; the profile
// fields exist on User only (a Bot, Mannequin or Organization has a login
// and nothing more).
const fragments = userFragment + `
fragment actorFields on Actor {
  __typename
  login
  url
  avatarUrl
  ...userFields
}
`

const userFragment = `
fragment userFields on User {
  databaseId
  login
  name
  email
  company
  bio
  location
  websiteUrl
  isHireable
  url
  avatarUrl
  followers { totalCount }
}
`

const rateLimitFields = `rateLimit { cost remaining resetAt }`

// queryProbe is built per run: one aliased repository field per repo
// (r0, r1, ...), so that a run checks all its repositories in one request.
const probeFields = `{ id url createdAt nameWithOwner }`

const queryStargazers = `query Stargazers($owner: String!, $name: String!, $cursor: String) {
  ` + rateLimitFields + `
  repository(owner: $owner, name: $name) {
    stargazers(first: 100, after: $cursor, orderBy: {field: STARRED_AT, direction: DESC}) {
      pageInfo { hasNextPage endCursor }
      edges { starredAt node { ...actorFields } }
    }
  }
}` + fragments

const queryForks = `query Forks($owner: String!, $name: String!, $cursor: String) {
  ` + rateLimitFields + `
  repository(owner: $owner, name: $name) {
    forks(first: 100, after: $cursor, orderBy: {field: CREATED_AT, direction: DESC}) {
      pageInfo { hasNextPage endCursor }
      nodes {
        id
        url
        createdAt
        owner { __typename login url avatarUrl ...userFields }
      }
    }
  }
}` + userFragment

const queryIssues = `query Issues($owner: String!, $name: String!, $cursor: String) {
  ` + rateLimitFields + `
  repository(owner: $owner, name: $name) {
    issues(first: 50, after: $cursor, orderBy: {field: UPDATED_AT, direction: DESC}) {
      pageInfo { hasNextPage endCursor }
      nodes {
        id number title body url state createdAt updatedAt
        author { ...actorFields }
        labels(first: 10) { nodes { name } }
        ...inlineComments
      }
    }
  }
}
fragment inlineComments on Issue {
  comments(last: 10) { totalCount ...commentPage }
}` + commentPage + fragments

const queryPulls = `query Pulls($owner: String!, $name: String!, $cursor: String) {
  ` + rateLimitFields + `
  repository(owner: $owner, name: $name) {
    pullRequests(first: 50, after: $cursor, orderBy: {field: UPDATED_AT, direction: DESC}) {
      pageInfo { hasNextPage endCursor }
      nodes {
        ...pullFields
        title body url createdAt updatedAt
        author { ...actorFields }
        ...inlineComments
        reviewThreads { totalCount }
        timelineItems(itemTypes: [PULL_REQUEST_REVIEW, MERGED_EVENT, ASSIGNED_EVENT, REVIEW_REQUESTED_EVENT, CLOSED_EVENT]) { totalCount }
      }
    }
  }
}
fragment pullFields on PullRequest {
  id number state additions deletions changedFiles authorAssociation
  labels(first: 10) { nodes { name } }
}
fragment inlineComments on PullRequest {
  comments(last: 10) { totalCount ...commentPage }
}` + commentPage + fragments

const queryDiscussions = `query Discussions($owner: String!, $name: String!, $cursor: String) {
  ` + rateLimitFields + `
  repository(owner: $owner, name: $name) {
    discussions(first: 50, after: $cursor, orderBy: {field: UPDATED_AT, direction: DESC}) {
      pageInfo { hasNextPage endCursor }
      nodes {
        id number title body url createdAt updatedAt
        author { ...actorFields }
        category { id name slug emoji description isAnswerable }
        comments { totalCount }
      }
    }
  }
}` + fragments

// Child connections walk newest first (last/before), so a check stops at
// the first page older than what the last run saw; an onboarding pages to
// the start.
// Issues and pull requests have a query each: one document with both
// fragments would be charged for both connections.
const queryIssueComments = `query IssueComments($id: ID!, $cursor: String) {
  ` + rateLimitFields + `
  node(id: $id) {
    __typename
    ... on Issue { comments(last: 100, before: $cursor) { ...commentPage } }
  }
}` + commentPage + fragments

const queryPullComments = `query PullComments($id: ID!, $cursor: String) {
  ` + rateLimitFields + `
  node(id: $id) {
    __typename
    ... on PullRequest { comments(last: 100, before: $cursor) { ...commentPage } }
  }
}` + commentPage + fragments

const commentPage = `
fragment commentPage on IssueCommentConnection {
  pageInfo { hasPreviousPage startCursor }
  nodes { id body url createdAt author { ...actorFields } }
}`

const queryReviewThreads = `query ReviewThreads($id: ID!, $cursor: String) {
  ` + rateLimitFields + `
  node(id: $id) {
    __typename
    ... on PullRequest {
      reviewThreads(first: 100, after: $cursor) {
        pageInfo { hasNextPage endCursor }
        nodes { id comments { totalCount } }
      }
    }
  }
}`

const queryThreadComments = `query ThreadComments($id: ID!, $cursor: String) {
  ` + rateLimitFields + `
  node(id: $id) {
    __typename
    ... on PullRequestReviewThread {
      comments(last: 100, before: $cursor) {
        pageInfo { hasPreviousPage startCursor }
        nodes { id body url createdAt author { ...actorFields } }
      }
    }
  }
}` + fragments

const queryTimeline = `query Timeline($id: ID!, $cursor: String) {
  ` + rateLimitFields + `
  node(id: $id) {
    __typename
    ... on PullRequest {
      ...pullFields
      title url createdAt
      timelineItems(last: 50, before: $cursor, itemTypes: [PULL_REQUEST_REVIEW, MERGED_EVENT, ASSIGNED_EVENT, REVIEW_REQUESTED_EVENT, CLOSED_EVENT]) {
        pageInfo { hasPreviousPage startCursor }
        nodes {
          __typename
          ... on AssignedEvent {
            id createdAt
            actor { ...actorLite }
            assignee { __typename ... on User { ...actorLite } ... on Bot { login } }
          }
          ... on ReviewRequestedEvent {
            id createdAt
            actor { ...actorLite }
            requestedReviewer {
              __typename
              ... on User { ...actorLite }
              ... on Bot { login }
            }
          }
          ... on PullRequestReview { id body url state submittedAt createdAt author { ...actorLite } }
          ... on MergedEvent { id createdAt actor { ...actorLite } }
          ... on ClosedEvent { id createdAt actor { ...actorLite } }
        }
      }
    }
  }
}
fragment pullFields on PullRequest {
  id number state additions deletions changedFiles authorAssociation
  labels(first: 10) { nodes { name } }
}
# Actors without their profile: each profile's followers would cost a
# request per event and per event type (6 points a page instead of 1); the
# same people's profiles come with their comments, issues and PRs.
fragment actorLite on Actor { __typename login url avatarUrl ... on User { databaseId name } }
`

const queryDiscussionComments = `query DiscussionComments($id: ID!, $cursor: String) {
  ` + rateLimitFields + `
  node(id: $id) {
    __typename
    ... on Discussion {
      comments(last: 100, before: $cursor) {
        pageInfo { hasPreviousPage startCursor }
        nodes {
          id body url createdAt isAnswer
          author { ...actorFields }
          # Replies inline, 10 at most and their authors without the
          # profile: their followers would cost a request per reply
          # (100 comments x 100 replies = 100 points a page). A comment
          # with more replies gets a stream of its own.
          replies(first: 10) {
            pageInfo { hasNextPage endCursor }
            nodes { id body url createdAt author { __typename login url avatarUrl ... on User { databaseId name } } }
          }
        }
      }
    }
  }
}` + fragments

const queryReplies = `query Replies($id: ID!, $cursor: String) {
  ` + rateLimitFields + `
  node(id: $id) {
    __typename
    ... on DiscussionComment {
      replies(first: 100, after: $cursor) {
        pageInfo { hasNextPage endCursor }
        nodes { id body url createdAt author { ...actorFields } }
      }
    }
  }
}` + fragments

// allQueries lists the fixed documents, for the schema test.
var allQueries = map[string]string{
	"Stargazers": queryStargazers, "Forks": queryForks, "Issues": queryIssues, "Pulls": queryPulls,
	"Discussions": queryDiscussions, "IssueComments": queryIssueComments, "PullComments": queryPullComments, "ReviewThreads": queryReviewThreads,
	"ThreadComments": queryThreadComments, "Timeline": queryTimeline, "DiscussionComments": queryDiscussionComments,
	"Replies": queryReplies,
}

// Response shapes.

type rateLimit struct {
	Cost      int       `json:"cost"`
	Remaining int       `json:"remaining"`
	ResetAt   time.Time `json:"resetAt"`
}

type pageInfo struct {
	HasNextPage     bool   `json:"hasNextPage"`
	EndCursor       string `json:"endCursor"`
	HasPreviousPage bool   `json:"hasPreviousPage"`
	StartCursor     string `json:"startCursor"`
}

// actor is an Actor (or a RepositoryOwner, Assignee, RequestedReviewer):
// the User fields are empty for the others.
type actor struct {
	Typename   string `json:"__typename"`
	DatabaseID int64  `json:"databaseId"`
	Login      string `json:"login"`
	Name       string `json:"name"`
	Email      string `json:"email"`
	Company    string `json:"company"`
	Bio        string `json:"bio"`
	Location   string `json:"location"`
	WebsiteURL string `json:"websiteUrl"`
	IsHireable bool   `json:"isHireable"`
	URL        string `json:"url"`
	AvatarURL  string `json:"avatarUrl"`
	Followers  *count `json:"followers"`
}

type count struct {
	TotalCount int `json:"totalCount"`
}

type labelNodes struct {
	Nodes []struct {
		Name string `json:"name"`
	} `json:"nodes"`
}

type comment struct {
	ID        string       `json:"id"`
	Body      string       `json:"body"`
	URL       string       `json:"url"`
	CreatedAt time.Time    `json:"createdAt"`
	Author    *actor       `json:"author"`
	IsAnswer  bool         `json:"isAnswer"`
	Replies   *commentConn `json:"replies"`
}

type commentConn struct {
	PageInfo pageInfo   `json:"pageInfo"`
	Nodes    []*comment `json:"nodes"`
}

type issueNode struct {
	ID        string     `json:"id"`
	Number    int        `json:"number"`
	Title     string     `json:"title"`
	Body      string     `json:"body"`
	URL       string     `json:"url"`
	State     string     `json:"state"`
	CreatedAt time.Time  `json:"createdAt"`
	UpdatedAt time.Time  `json:"updatedAt"`
	Author    *actor     `json:"author"`
	Labels    labelNodes `json:"labels"`
	Comments  struct {
		TotalCount int        `json:"totalCount"`
		PageInfo   pageInfo   `json:"pageInfo"`
		Nodes      []*comment `json:"nodes"`
	} `json:"comments"`
	// Pull requests only.
	Additions         int    `json:"additions"`
	Deletions         int    `json:"deletions"`
	ChangedFiles      int    `json:"changedFiles"`
	AuthorAssociation string `json:"authorAssociation"`
	ReviewThreads     count  `json:"reviewThreads"`
	TimelineItems     *struct {
		TotalCount int           `json:"totalCount"`
		PageInfo   pageInfo      `json:"pageInfo"`
		Nodes      []*timelineEv `json:"nodes"`
	} `json:"timelineItems"`
	// Discussions only.
	Category *category `json:"category"`
}

type category struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	Slug         string `json:"slug"`
	Emoji        string `json:"emoji"`
	Description  string `json:"description"`
	IsAnswerable bool   `json:"isAnswerable"`
}

type timelineEv struct {
	Typename          string     `json:"__typename"`
	ID                string     `json:"id"`
	CreatedAt         time.Time  `json:"createdAt"`
	SubmittedAt       *time.Time `json:"submittedAt"`
	Actor             *actor     `json:"actor"`
	Author            *actor     `json:"author"`
	Assignee          *actor     `json:"assignee"`
	RequestedReviewer *actor     `json:"requestedReviewer"`
	Body              string     `json:"body"`
	URL               string     `json:"url"`
	State             string     `json:"state"`
}

type repoListData struct {
	Repository *struct {
		Stargazers *struct {
			PageInfo pageInfo `json:"pageInfo"`
			Edges    []struct {
				StarredAt time.Time `json:"starredAt"`
				Node      *actor    `json:"node"`
			} `json:"edges"`
		} `json:"stargazers"`
		Forks *struct {
			PageInfo pageInfo `json:"pageInfo"`
			Nodes    []struct {
				ID        string    `json:"id"`
				URL       string    `json:"url"`
				CreatedAt time.Time `json:"createdAt"`
				Owner     *actor    `json:"owner"`
			} `json:"nodes"`
		} `json:"forks"`
		Issues       *issueConn `json:"issues"`
		PullRequests *issueConn `json:"pullRequests"`
		Discussions  *issueConn `json:"discussions"`
	} `json:"repository"`
}

type issueConn struct {
	PageInfo pageInfo     `json:"pageInfo"`
	Nodes    []*issueNode `json:"nodes"`
}

type nodeData struct {
	Node *struct {
		Typename string `json:"__typename"`
		issueNode
		Comments      *commentConn `json:"comments"`
		Replies       *commentConn `json:"replies"`
		ReviewThreads *struct {
			PageInfo pageInfo `json:"pageInfo"`
			Nodes    []struct {
				ID       string `json:"id"`
				Comments count  `json:"comments"`
			} `json:"nodes"`
		} `json:"reviewThreads"`
	} `json:"node"`
}
