// Package testservice is a scripted integration service for the engine's
// tests: streams, pages, failures, sleeps and rate limits on demand, with
// no API behind it.
package testservice

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/crowdflow/crowdflow/integrations"
)

// Platform is the test service's platform name.
const Platform = "test"

// Page is one page of a stream: Records activities, each by its own member,
// with timestamps going back from Newest one minute apart.
type Page struct {
	Records int
	Newest  time.Time
	// NewStreams are stream names this page adds.
	NewStreams []string
	// Members is how many distinct members the stream's records cycle
	// through (0: three), to size the member upserts in benchmarks.
	Members int
}

// Script says what each stream does.
type Script struct {
	// Roots are the streams GetStreams returns, in order.
	Roots []string
	// Pages per stream name; a stream with more than one page returns a next
	// page until the last.
	Pages map[string][]Page
	// FailTimes makes a stream's first N attempts fail; -1 fails it always.
	FailTimes map[string]int
	// PermanentFail makes a stream fail with a permanent error.
	PermanentFail map[string]bool
	// RateLimitOnce makes a stream's first attempt answer rate-limited for
	// this long.
	RateLimitOnce map[string]time.Duration
	// RateLimitTimes makes a stream's first N attempts answer rate-limited
	// (-1: every attempt), asking to wait RateLimitWait[stream] (zero: a
	// Retry-After of 0, whose end is already past).
	RateLimitTimes map[string]int
	RateLimitWait  map[string]time.Duration
	// RateLimitBucket makes a stream's rate limits its route's only (a
	// Discord per-route bucket), not the whole credential's.
	RateLimitBucket map[string]string
	// SleepAfter makes a stream ask the run to sleep this long.
	SleepAfter map[string]time.Duration
	// HoldFirst makes a stream's first attempt take this long (or until it
	// is cancelled) before it answers, as a slow API would: time to stop a
	// worker in the middle of it.
	HoldFirst map[string]time.Duration
	// PreprocessFails makes preprocess fail always.
	PreprocessFails bool
	// PreprocessRateLimitTimes makes the first N preprocess calls answer
	// rate-limited (-1: every call) for PreprocessRateLimitWait.
	PreprocessRateLimitTimes int
	PreprocessRateLimitWait  time.Duration
	// CheckWindow: in check runs a page whose oldest record is older than
	// this before the run start ends the stream.
	CheckWindow time.Duration
	Config      integrations.Config
}

// Service runs a Script and records what was called.
type Service struct {
	mu       sync.Mutex
	script   Script
	attempts map[string]int
	calls    []string
	// failUntil: a stream fails with a 503 until then (SetFailFor).
	failUntil map[string]time.Time
	// preprocessed counts Preprocess calls.
	preprocessed int
}

// SetFailFor makes a stream answer 503 from now for d, as an API incident
// would, whatever the attempt.
func (s *Service) SetFailFor(stream string, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failUntil == nil {
		s.failUntil = map[string]time.Time{}
	}
	s.failUntil[stream] = time.Now().Add(d)
}

// SetRoots changes the root streams GetStreams returns from now on (as
// new channels appear), and what Preprocess reports.
func (s *Service) SetRoots(roots ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.script.Roots = roots
}

// Preprocessed counts the calls of Preprocess.
func (s *Service) Preprocessed() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.preprocessed
}

// New returns a service that follows s.
func New(s Script) *Service {
	return &Service{script: s, attempts: map[string]int{}}
}

// SetFailTimes changes how often a stream fails from now on (-1: always,
// 0: never), counting its attempts afresh.
func (s *Service) SetFailTimes(stream string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.script.FailTimes == nil {
		s.script.FailTimes = map[string]int{}
	}
	s.script.FailTimes[stream] = n
	for k := range s.attempts {
		if strings.HasPrefix(k, stream+"#") {
			delete(s.attempts, k)
		}
	}
}

// Calls returns the stream pages processed, in order, as "name#page".
func (s *Service) Calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.calls...)
}

// Attempts returns how often a stream page was attempted.
func (s *Service) Attempts(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts[key]
}

func (s *Service) Platform() string            { return Platform }
func (s *Service) Config() integrations.Config { return s.script.Config }
func (s *Service) MemberAttributes() []integrations.MemberAttribute {
	return []integrations.MemberAttribute{{Name: "url", Label: "URL", Type: "url", Show: true}}
}

type meta struct {
	Page int `json:"page"`
}

func (s *Service) Preprocess(ctx context.Context, run *integrations.RunContext) (json.RawMessage, error) {
	if s.script.PreprocessFails {
		return nil, fmt.Errorf("preprocess: GET /me: 500 Internal Server Error")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.preprocessed++
	if n := s.script.PreprocessRateLimitTimes; n < 0 || s.preprocessed <= n {
		return nil, integrations.RateLimited(time.Now().Add(s.script.PreprocessRateLimitWait), "GET /me")
	}
	return json.Marshal(pipeline{Preprocessed: true, Roots: s.script.Roots})
}

// pipeline is the test service's pipeline data: the roots it saw, as a
// real service lists channels or articles in its preprocess.
type pipeline struct {
	Preprocessed bool     `json:"preprocessed"`
	Roots        []string `json:"roots"`
}

// GetStreams makes a stream of every root the preprocess saw.
func (s *Service) GetStreams(ctx context.Context, run *integrations.RunContext) ([]integrations.Stream, error) {
	var pd pipeline
	if err := json.Unmarshal(run.PipelineData, &pd); err != nil {
		return nil, err
	}
	var out []integrations.Stream
	for _, r := range pd.Roots {
		out = append(out, integrations.NewStream(r, meta{Page: 0}))
	}
	return out, nil
}

func (s *Service) ProcessStream(ctx context.Context, run *integrations.RunContext, st integrations.Stream) (*integrations.StreamResult, error) {
	var m meta
	if err := st.DecodeMetadata(&m); err != nil {
		return nil, err
	}
	var pd struct{ Preprocessed bool }
	if err := json.Unmarshal(run.PipelineData, &pd); err != nil || !pd.Preprocessed {
		return nil, fmt.Errorf("pipeline data lost: %q", run.PipelineData)
	}
	key := fmt.Sprintf("%s#%d", st.Name, m.Page)
	s.mu.Lock()
	s.attempts[key]++
	attempt := s.attempts[key]
	s.mu.Unlock()

	if d, ok := s.script.HoldFirst[st.Name]; ok && attempt == 1 {
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	refuse := func(d time.Duration) error {
		return &integrations.RateLimitedError{Until: time.Now().Add(d), Reason: "GET /" + st.Name, Bucket: s.script.RateLimitBucket[st.Name]}
	}
	if d, ok := s.script.RateLimitOnce[st.Name]; ok && attempt == 1 {
		return nil, refuse(d)
	}
	if n, ok := s.script.RateLimitTimes[st.Name]; ok && (n < 0 || attempt <= n) {
		return nil, refuse(s.script.RateLimitWait[st.Name])
	}
	s.mu.Lock()
	down := time.Now().Before(s.failUntil[st.Name])
	s.mu.Unlock()
	if down {
		return nil, fmt.Errorf("GET /%s: 503 Service Unavailable", st.Name)
	}
	if s.script.PermanentFail[st.Name] {
		return nil, integrations.Permanent(fmt.Errorf("GET /%s: 401 invalid token", st.Name))
	}
	if n := s.script.FailTimes[st.Name]; n < 0 || attempt <= n {
		return nil, fmt.Errorf("GET /%s: 500 Internal Server Error", st.Name)
	}
	s.mu.Lock()
	s.calls = append(s.calls, key)
	s.mu.Unlock()

	pages := s.script.Pages[st.Name]
	res := &integrations.StreamResult{Sleep: s.script.SleepAfter[st.Name]}
	if m.Page < len(pages) {
		pg := pages[m.Page]
		members := pg.Members
		if members <= 0 {
			members = 3
		}
		for i := 0; i < pg.Records; i++ {
			ts := pg.Newest.Add(-time.Duration(i) * time.Minute)
			user := fmt.Sprintf("user-%s-%d", st.Name, i%members)
			res.Activities = append(res.Activities, integrations.Activity{
				Type: "message", SourceID: fmt.Sprintf("%s-%d-%d", st.Name, m.Page, i), Timestamp: ts,
				Body: "hello", Score: 1, Channel: st.Name,
				Member: integrations.Member{Username: user, DisplayName: user, Attributes: map[string]any{"url": "https://example.test/" + user}},
			})
			res.LastRecordTimestamp = ts
		}
		for _, n := range pg.NewStreams {
			res.NewStreams = append(res.NewStreams, integrations.NewStream(n, meta{Page: 0}))
		}
		if m.Page+1 < len(pages) {
			next := integrations.NewStream(st.Name, meta{Page: m.Page + 1})
			res.NextPage = &next
		}
	}
	return res, nil
}

// IsProcessingFinished stops a check run once a page reaches back past the
// check window.
func (s *Service) IsProcessingFinished(run *integrations.RunContext, st integrations.Stream, res *integrations.StreamResult) bool {
	if s.script.CheckWindow == 0 || res.LastRecordTimestamp.IsZero() {
		return false
	}
	return res.LastRecordTimestamp.Before(run.StartedAt.Add(-s.script.CheckWindow))
}

// Postprocess saves which streams did not finish and, as a service keeps
// a cursor, which roots are seen: the preprocess's roots that finished.
func (s *Service) Postprocess(ctx context.Context, run *integrations.RunContext, out integrations.RunOutcome) (json.RawMessage, error) {
	names := []string{}
	unfinished := map[string]bool{}
	for _, u := range out.Unfinished {
		names = append(names, u.Name)
		unfinished[u.Name] = true
	}
	var pd pipeline
	if err := json.Unmarshal(run.PipelineData, &pd); err != nil {
		return nil, err
	}
	seen := []string{}
	for _, r := range pd.Roots {
		if !unfinished[r] {
			seen = append(seen, r)
		}
	}
	return json.Marshal(map[string]any{"unfinished": names, "seen": seen})
}
