package githubfake

import "time"

// World is the fake's data: users, repositories and what happened in them.
// Times are what the API reports; ids are derived from positions so that
// a world built twice answers the same.
type World struct {
	Users []User
	Repos []Repo
	// Installations of the GitHub App, by id: which repositories each sees.
	Installations []Installation
}

// User is an account. Bot accounts answer as Bot with login "<name>[bot]".
type User struct {
	Login      string
	Name       string
	Email      string // public email, "" when hidden
	Company    string // as typed, e.g. "@acme"
	Bio        string
	Location   string
	WebsiteURL string
	IsHireable bool
	Followers  int
	Bot        bool
	CreatedAt  time.Time
}

// Repo is a repository. Unavailable makes it answer as GitHub does for a
// repository the token cannot see: "NOT_FOUND" (deleted, private) or
// "FORBIDDEN" (an organization that blocks the app or token).
type Repo struct {
	Owner, Name string
	Unavailable string
	CreatedAt   time.Time
	Stars       []Star
	Forks       []Fork
	Issues      []Issue
	Pulls       []Pull
	Discussions []Discussion
}

// Star is a stargazer; User is a login.
type Star struct {
	User string
	At   time.Time
}

// Fork is a fork owned by Owner (a login).
type Fork struct {
	Owner     string
	CreatedAt time.Time
}

// Comment is an issue, PR, review-thread or discussion-reply comment.
// Author "" is a deleted account (GitHub's ghost: author null).
type Comment struct {
	Author    string
	Body      string
	CreatedAt time.Time
}

// Issue is an issue. UpdatedAt defaults to the latest of CreatedAt and
// its comments.
type Issue struct {
	Number    int
	Author    string
	Title     string
	Body      string
	State     string // OPEN, CLOSED
	Labels    []string
	CreatedAt time.Time
	UpdatedAt time.Time
	Comments  []Comment
}

// Pull is a pull request with its timeline.
type Pull struct {
	Number        int
	Author        string
	Title         string
	Body          string
	State         string // OPEN, CLOSED, MERGED
	Labels        []string
	Additions     int
	Deletions     int
	ChangedFiles  int
	CreatedAt     time.Time
	UpdatedAt     time.Time
	Comments      []Comment
	ReviewThreads [][]Comment
	Events        []Event
}

// Event types of a pull request's timeline.
const (
	EventAssigned        = "AssignedEvent"
	EventReviewRequested = "ReviewRequestedEvent"
	EventReviewed        = "PullRequestReview"
	EventMerged          = "MergedEvent"
	EventClosed          = "ClosedEvent"
)

// Event is one timeline item. Actor is who did it (the reviewer for a
// review); Subject is the assignee or the requested reviewer.
type Event struct {
	Type    string
	Actor   string
	Subject string
	Body    string // review body
	State   string // review state: APPROVED, CHANGES_REQUESTED, COMMENTED
	At      time.Time
}

// Discussion is a discussion with its comments and their replies.
type Discussion struct {
	Number    int
	Author    string
	Title     string
	Body      string
	Category  string // one of the fake's categories: General, Q&A, Ideas
	CreatedAt time.Time
	UpdatedAt time.Time
	Comments  []DiscussionComment
}

// DiscussionComment is a top-level discussion comment.
type DiscussionComment struct {
	Author    string
	Body      string
	IsAnswer  bool
	CreatedAt time.Time
	Replies   []Comment
}

// Installation is a GitHub App installation and the repositories
// ("owner/name") it was granted.
type Installation struct {
	ID    int64
	Repos []string
}
