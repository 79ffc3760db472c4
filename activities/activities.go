package activities

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/integrations/registry"
	"github.com/crowdflow/crowdflow/internal/quota"
	"github.com/crowdflow/crowdflow/store"
)

// Activities holds what the activities need.
type Activities struct {
	Store    *store.Store
	Registry *registry.Registry
	Logger   *slog.Logger
	// HeartbeatInterval is how often a step that calls a platform's API
	// tells Temporal it is alive (0: every 5 s); the workflow's
	// HeartbeatTimeout must be a few times longer.
	HeartbeatInterval time.Duration
}

// RunRef names a run.
type RunRef struct {
	RunID string
}

// Kinds of delay (the store's, which its metrics use).
const (
	// DelayRateLimit: the API refused for a while. Repeated ones back off
	// and are bounded in time (see workflows.Run).
	DelayRateLimit = store.DelayKindRateLimit
	// DelayGlobalLimit: the integration used up its own record limit.
	DelayGlobalLimit = store.DelayKindGlobalLimit
	// DelaySleep: the service asked the run to pause after a page.
	DelaySleep = store.DelayKindSleep
)

// Delay is a pause the run must take before going on. The zero value (no
// Kind) means no pause.
type Delay struct {
	Kind string `json:",omitempty"`
	// Wait is how long to pause. It travels as a duration, measured where
	// it was learnt (Retry-After, or an API's reset instant minus this
	// worker's clock), and the workflow sleeps it on its own timer: no
	// instant of a worker's clock is ever compared with workflow time. It
	// may be zero or negative (Retry-After: 0, a reset in the past): the
	// workflow gives every wait a floor.
	Wait time.Duration `json:",omitempty"`
	// Until is when the pause ends by the worker's clock, for people only
	// (progress, logs).
	Until  time.Time
	Reason string
}

// IsZero reports whether there is no pause.
func (d Delay) IsZero() bool { return d.Kind == "" }

// delayUntil is a pause until an instant, as a duration from now.
func delayUntil(kind string, until time.Time, reason string) Delay {
	return Delay{Kind: kind, Wait: time.Until(until), Until: until, Reason: reason}
}

// StartRunInput starts (or resumes) a run.
type StartRunInput struct {
	RunID         string
	IntegrationID string
	Onboarding    bool
	// Service is set for a run of another service than the integration's
	// platform's (twitter-reach on a twitter integration).
	Service string
	// Restart (continue-run) takes up a run that ended and puts its failed
	// or interrupted streams back in the queue (store.BeginRun).
	Restart bool
	// Continued is a new execution after continue-as-new: only the
	// execution is recorded on the row.
	Continued bool
}

// StartRunResult tells the workflow what the run already has.
type StartRunResult struct {
	HasStreams bool
	// StreamsInFlight is how many of the run's streams may be processed
	// at once (the service's Config, or its PARALLEL_STREAMS override).
	StreamsInFlight int `json:",omitempty"`
}

// StartRun is the first activity of every execution: it marks the run
// processing, creating its row if the starter did not, and records the
// Temporal execution that runs it, so "workflowRunId" follows
// continue-as-new.
func (a *Activities) StartRun(ctx context.Context, in StartRunInput) (StartRunResult, error) {
	info := activity.GetInfo(ctx)
	if in.Continued {
		n, err := a.streamsInFlight(ctx, in.RunID)
		if err != nil {
			return StartRunResult{}, err
		}
		return StartRunResult{HasStreams: true, StreamsInFlight: n}, wrap(a.Store.SetRunWorkflowRunID(ctx, in.RunID, info.WorkflowExecution.RunID),
			"record the execution")
	}
	integ, err := a.Store.GetIntegration(ctx, in.IntegrationID)
	if err != nil {
		return StartRunResult{}, wrap(err, "load integration")
	}
	service := integ.Platform
	if in.Service != "" {
		service = in.Service
	}
	svc, ok := a.Registry.Get(service)
	if !ok {
		return StartRunResult{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("no service for platform %q", service), ErrTypePermanent, nil)
	}
	reset, err := a.Store.BeginRun(ctx, store.NewRun{
		ID: in.RunID, TenantID: integ.TenantID, IntegrationID: integ.ID, Onboarding: in.Onboarding,
		WorkflowID: info.WorkflowExecution.ID, Service: in.Service,
	}, info.WorkflowExecution.RunID, in.Restart)
	if err != nil {
		return StartRunResult{}, wrap(err, "mark run processing")
	}
	if in.Restart {
		a.logger(ctx).Info("run restarted", "runId", in.RunID, "streamsBackInQueue", reset)
	}
	has, err := a.Store.HasStreams(ctx, in.RunID)
	if err != nil {
		return StartRunResult{}, wrap(err, "look for streams")
	}
	return StartRunResult{HasStreams: has, StreamsInFlight: svc.Config().StreamsInFlight(service)}, nil
}

// streamsInFlight is StartRunResult.StreamsInFlight of a run that exists.
func (a *Activities) streamsInFlight(ctx context.Context, runID string) (int, error) {
	run, err := a.Store.GetRun(ctx, runID)
	if err != nil {
		return 0, wrap(err, "load run")
	}
	integ, err := a.Store.GetIntegration(ctx, run.IntegrationID)
	if err != nil {
		return 0, wrap(err, "load integration")
	}
	service := integ.Platform
	if run.Service != "" {
		service = run.Service
	}
	svc, ok := a.Registry.Get(service)
	if !ok {
		return 1, nil
	}
	return svc.Config().StreamsInFlight(service), nil
}

// Preprocess runs the service's preprocess step and keeps what it returns
// on the run row. A run that has its pipeline data already (a continue-run,
// a retried attempt, a new execution after continue-as-new) keeps it and is
// not preprocessed again: its streams were made from that data, and its
// Postprocess must see the same data, or it would mark as seen what was
// discovered now and never fetched (a Slack channel joined meanwhile, a
// Dev.to article that changed meanwhile).
func (a *Activities) Preprocess(ctx context.Context, in RunRef) (Delay, error) {
	ctx = a.apiContext(ctx)
	defer a.heartbeat(ctx)()
	rc, svc, err := a.runContext(ctx, in.RunID)
	if err != nil {
		return Delay{}, err
	}
	pre, ok := svc.(integrations.Preprocessor)
	if !ok || len(rc.PipelineData) > 0 {
		return Delay{}, nil
	}
	data, err := pre.Preprocess(ctx, rc)
	if rl, ok := integrations.AsRateLimited(err); ok {
		return delayUntil(DelayRateLimit, rl.Until, "preprocess: "+rl.Reason), nil
	}
	if err != nil {
		return Delay{}, serviceError(ctx, "preprocess", err)
	}
	return Delay{}, wrap(a.Store.SetPipelineData(ctx, in.RunID, data), "save pipeline data")
}

// CreateMemberAttributes creates the platform's member attributes, once per
// tenant and platform.
func (a *Activities) CreateMemberAttributes(ctx context.Context, in RunRef) error {
	rc, svc, err := a.runContext(ctx, in.RunID)
	if err != nil {
		return err
	}
	p, ok := svc.(integrations.MemberAttributeProvider)
	if !ok {
		return nil
	}
	return wrap(a.Store.CreateMemberAttributes(ctx, rc.Integration.TenantID, svc.Platform(), p.MemberAttributes()),
		"create member attributes")
}

// GetStreamsResult counts the root streams stored.
type GetStreamsResult struct {
	Streams int
	Delay   Delay
}

// GetStreams stores the run's root streams. A run that has streams (a
// retried activity, a continued run) keeps them and is not asked again.
func (a *Activities) GetStreams(ctx context.Context, in RunRef) (GetStreamsResult, error) {
	ctx = a.apiContext(ctx)
	defer a.heartbeat(ctx)()
	has, err := a.Store.HasStreams(ctx, in.RunID)
	if err != nil || has {
		return GetStreamsResult{}, wrap(err, "look for streams")
	}
	rc, svc, err := a.runContext(ctx, in.RunID)
	if err != nil {
		return GetStreamsResult{}, err
	}
	streams, err := svc.GetStreams(ctx, rc)
	if rl, ok := integrations.AsRateLimited(err); ok {
		return GetStreamsResult{Delay: delayUntil(DelayRateLimit, rl.Until, "get streams: "+rl.Reason)}, nil
	}
	if err != nil {
		return GetStreamsResult{}, serviceError(ctx, "get streams", err)
	}
	run, err := a.Store.GetRun(ctx, in.RunID)
	if err != nil {
		return GetStreamsResult{}, wrap(err, "load run")
	}
	n, err := a.Store.AddStreams(ctx, run, streams)
	return GetStreamsResult{Streams: n}, wrap(err, "store streams")
}

// NextStreamsInput asks for the run's next pending streams.
type NextStreamsInput struct {
	RunID string
	Limit int
	// CountPending asks for the number of pending streams too. The
	// workflow asks once per execution and keeps the count itself after
	// that: counting on every batch would scan a long run's queue again and
	// again.
	CountPending bool
}

// NextStreamsResult is the head of the run's queue.
type NextStreamsResult struct {
	IDs []string
	// Pending counts every pending stream of the run (when asked), for the
	// progress query.
	Pending int
}

// NextStreams returns the ids of the run's oldest pending streams.
func (a *Activities) NextStreams(ctx context.Context, in NextStreamsInput) (NextStreamsResult, error) {
	ids, err := a.Store.NextStreams(ctx, in.RunID, in.Limit)
	if err != nil {
		return NextStreamsResult{}, wrap(err, "list pending streams")
	}
	out := NextStreamsResult{IDs: ids}
	if in.CountPending {
		counts, err := a.Store.StreamCounts(ctx, in.RunID)
		if err != nil {
			return NextStreamsResult{}, wrap(err, "count streams")
		}
		out.Pending = counts[store.StreamPending]
	}
	return out, nil
}

// ProcessStreamInput names the stream to process.
type ProcessStreamInput struct {
	RunID    string
	StreamID string
	// AttemptsBefore counts the stream's attempts made before this step
	// (in a slot's ProcessStreams), so the row counts every attempt.
	AttemptsBefore int `json:",omitempty"`
}

// ProcessStreamResult is what the workflow learns of a processed stream.
type ProcessStreamResult struct {
	// Committed: the stream is processed (by this attempt or an earlier one
	// whose completion was lost: then AlreadyProcessed is set too).
	Committed        bool
	AlreadyProcessed bool
	Records          int
	NewStreams       int
	// Delay is set when the run must wait: the service asked to sleep, the
	// API rate-limited (then the stream is pending again and is retried
	// after the wait, without spending a retry attempt), or the global
	// limit is reached.
	Delay Delay
}

// ProcessStream fetches one stream page and commits it, with its new
// streams and its state change, in one transaction.
func (a *Activities) ProcessStream(ctx context.Context, in ProcessStreamInput) (ProcessStreamResult, error) {
	ctx = a.apiContext(ctx)
	defer a.heartbeat(ctx)()
	st, err := a.Store.GetStream(ctx, in.StreamID)
	if err != nil {
		return ProcessStreamResult{}, wrap(err, "load stream")
	}
	if st.State == store.StreamProcessed {
		return ProcessStreamResult{Committed: true, AlreadyProcessed: true}, nil
	}
	rc, svc, err := a.runContext(ctx, st.RunID)
	if err != nil {
		return ProcessStreamResult{}, err
	}
	cfg := svc.Config()
	limit := cfg.EffectiveLimit(rc.Onboarding)
	if until, err := a.Store.CheckLimit(ctx, rc.Integration.ID, limit, cfg.LimitResetFrequency); err != nil {
		return ProcessStreamResult{}, wrap(err, "check global limit")
	} else if !until.IsZero() {
		return ProcessStreamResult{Delay: delayUntil(DelayGlobalLimit, until, "global limit reached")}, nil
	}
	if err := a.Store.MarkStreamProcessing(ctx, st.ID); err != nil {
		return ProcessStreamResult{}, wrap(err, "mark stream processing")
	}
	page, err := a.processPage(ctx, rc, svc, st)
	switch {
	case err != nil:
		return ProcessStreamResult{}, err
	case page.rateLimited != nil:
		// The workflow sleeps before it runs this stream again, whatever
		// the refusal's scope.
		if err := a.Store.ResetStream(ctx, st.ID); err != nil {
			return ProcessStreamResult{}, wrap(err, "reset rate-limited stream")
		}
		return ProcessStreamResult{Delay: page.rateLimitDelay(st)}, nil
	case page.failed != nil:
		a.recordAttemptError(ctx, st, int(activity.GetInfo(ctx).Attempt)+in.AttemptsBefore, page.failed)
		return ProcessStreamResult{}, serviceError(ctx, fmt.Sprintf("stream %s (%s)", st.Name, st.ID), page.failed)
	}
	// A used-up global limit is noticed before the next stream, so a run
	// whose last stream reached it does not wait for nothing.
	return page.result, nil
}

// page is what one stream page came to: committed (result), refused by a
// rate limit, or failed by the service.
type page struct {
	result      ProcessStreamResult
	rateLimited *integrations.RateLimitedError
	failed      error
}

// rateLimitDelay is the run's delay for a refused page.
func (p page) rateLimitDelay(st *store.Stream) Delay {
	return delayUntil(DelayRateLimit, p.rateLimited.Until, fmt.Sprintf("stream %s rate limited: %s", st.Name, p.rateLimited.Reason))
}

// processPage asks the service for one page of a stream it has claimed
// and commits what it returns, with the stream's state change, in one
// transaction. The error is the engine's own (the database): the service's
// failures are in the page.
func (a *Activities) processPage(ctx context.Context, rc *integrations.RunContext, svc integrations.Service, st *store.Stream) (page, error) {
	res, err := callProcessStream(ctx, svc, rc, st.Contract())
	if rl, ok := integrations.AsRateLimited(err); ok {
		return page{rateLimited: rl}, nil
	}
	if err != nil {
		return page{failed: err}, nil
	}
	if res == nil {
		res = &integrations.StreamResult{}
	}
	cfg := svc.Config()
	next := res.NextPage
	if next != nil && !rc.Onboarding {
		if fc, ok := svc.(integrations.FinishChecker); ok && fc.IsProcessingFinished(rc, st.Contract(), res) {
			next = nil
		}
	}
	c, err := a.Store.CommitStream(ctx, store.Page{
		Stream: st, Platform: svc.Platform(), Result: res, NextPage: next,
		Limit: cfg.EffectiveLimit(rc.Onboarding), LimitWindow: cfg.LimitResetFrequency,
	})
	if err != nil {
		return page{}, wrap(err, "commit stream "+st.ID)
	}
	out := ProcessStreamResult{Committed: true, Records: c.Records, NewStreams: c.NewStreams, AlreadyProcessed: c.AlreadyProcessed}
	if res.Sleep > 0 {
		out.Delay = Delay{Kind: DelaySleep, Wait: res.Sleep, Until: time.Now().Add(res.Sleep),
			Reason: fmt.Sprintf("stream %s asked to sleep %s", st.Name, res.Sleep)}
	}
	return page{result: out}, nil
}

// callProcessStream runs the service's ProcessStream, turning a panic into
// the stream's error: one bad page fails its stream, not the worker or the
// other streams of the step.
func callProcessStream(ctx context.Context, svc integrations.Service, rc *integrations.RunContext, s integrations.Stream) (res *integrations.StreamResult, err error) {
	defer func() {
		if p := recover(); p != nil {
			res, err = nil, fmt.Errorf("panic in %s ProcessStream: %v", svc.Platform(), p)
		}
	}()
	return svc.ProcessStream(ctx, rc, s)
}

// recordAttemptError notes a stream's failed attempt on its row, where the
// UI shows it while the attempts go on.
func (a *Activities) recordAttemptError(ctx context.Context, st *store.Stream, attempt int, err error) {
	failure := store.Failure{ErrorPoint: "process_stream", Message: err.Error(), StreamID: st.ID, Stream: st.Name}
	if rerr := a.Store.RecordStreamAttemptError(ctx, st.ID, attempt, failure); rerr != nil {
		a.logger(ctx).Warn("could not record stream error", "stream", st.ID, "err", rerr)
	}
}

// FailStreamInput records a stream whose attempts are spent.
type FailStreamInput struct {
	StreamID string
	Attempts int
	Message  string
}

// FailStream marks the stream error; the run goes on with the others.
func (a *Activities) FailStream(ctx context.Context, in FailStreamInput) error {
	st, err := a.Store.GetStream(ctx, in.StreamID)
	if err != nil {
		return wrap(err, "load stream")
	}
	return wrap(a.Store.FailStream(ctx, in.StreamID, in.Attempts, store.Failure{
		ErrorPoint: "process_stream", Message: in.Message, StreamID: st.ID, Stream: st.Name,
	}), "mark stream error")
}

// DelayRunInput marks a run delayed.
type DelayRunInput struct {
	RunID string
	Delay Delay
}

// DelayRun marks the run delayed until the wait ends.
func (a *Activities) DelayRun(ctx context.Context, in DelayRunInput) error {
	return wrap(a.Store.SetRunDelayedFor(ctx, in.RunID, in.Delay.Kind, in.Delay.Wait, in.Delay.Reason), "mark run delayed")
}

// ResumeRun marks a delayed run processing again.
func (a *Activities) ResumeRun(ctx context.Context, in RunRef) error {
	return wrap(a.Store.SetRunProcessing(ctx, in.RunID), "mark run processing")
}

// Postprocess runs the service's postprocess step and saves the settings
// it returns.
func (a *Activities) Postprocess(ctx context.Context, in RunRef) error {
	ctx = a.apiContext(ctx)
	defer a.heartbeat(ctx)()
	rc, svc, err := a.runContext(ctx, in.RunID)
	if err != nil {
		return err
	}
	post, ok := svc.(integrations.Postprocessor)
	if !ok {
		return nil
	}
	unfinished, err := a.Store.UnfinishedStreams(ctx, in.RunID)
	if err != nil {
		return wrap(err, "list unfinished streams")
	}
	settings, err := post.Postprocess(ctx, rc, integrations.RunOutcome{Unfinished: unfinished})
	if err != nil {
		return serviceError(ctx, "postprocess", err)
	}
	if settings == nil {
		return nil
	}
	return wrap(a.saveSettings(ctx, rc, post, integrations.RunOutcome{Unfinished: unfinished}, settings), "save settings")
}

// FinishRunInput ends a run; Failure is set when a step before the streams
// failed.
type FinishRunInput struct {
	RunID   string
	Failure *store.Failure
}

// FinishRun sets the run's final state and the integration's status, and
// returns the final state.
func (a *Activities) FinishRun(ctx context.Context, in FinishRunInput) (string, error) {
	state, err := a.Store.FinishRun(ctx, in.RunID, in.Failure)
	return state, wrap(err, "finish run")
}

// heartbeat records heartbeats until the returned stop is called. A service
// call is one blocking call, so the heartbeat runs beside it: if the worker
// dies, Temporal notices within the heartbeat timeout and retries the
// attempt on another worker.
func (a *Activities) heartbeat(ctx context.Context) (stop func()) {
	return a.heartbeatWith(ctx, nil)
}

// runContext loads what a service needs to work on a run.
func (a *Activities) runContext(ctx context.Context, runID string) (*integrations.RunContext, integrations.Service, error) {
	run, err := a.Store.GetRun(ctx, runID)
	if err != nil {
		return nil, nil, wrap(err, "load run")
	}
	integ, err := a.Store.GetIntegration(ctx, run.IntegrationID)
	if err != nil {
		return nil, nil, wrap(err, "load integration")
	}
	service := integ.Platform
	if run.Service != "" {
		service = run.Service
	}
	svc, ok := a.Registry.Get(service)
	if !ok {
		return nil, nil, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("no service for platform %q", service), ErrTypePermanent, nil)
	}
	// The tokens are opened here, in the activity that calls the platform,
	// and live only in its RunContext: never in workflow inputs, results or
	// logs.
	token, refreshToken, err := a.Store.OpenSecrets(ctx, integ)
	if err != nil {
		// A key missing from the ring will not appear on a retry.
		return nil, nil, temporal.NewNonRetryableApplicationError("open the integration's tokens: "+err.Error(), ErrTypePermanent, nil)
	}
	return &integrations.RunContext{
		RunID:      run.ID,
		Onboarding: run.Onboarding,
		StartedAt:  run.CreatedAt,
		Integration: integrations.Integration{
			ID: integ.ID, TenantID: integ.TenantID, Platform: integ.Platform, Identifier: integ.Identifier,
			Settings: integ.Settings, Token: token, RefreshToken: refreshToken,
		},
		PipelineData: run.PipelineData,
		Logger:       a.logger(ctx).With("platform", svc.Platform(), "integrationId", integ.ID, "runId", run.ID),
		Tokens:       a.Store,
		Records:      a.Store,
	}, svc, nil
}

// apiContext is the context of a step that calls a platform's API: what
// the HTTP clients under it need from the engine travels in it.
func (a *Activities) apiContext(ctx context.Context) context.Context {
	return quota.WithLedger(ctx, a.Store)
}

func (a *Activities) logger(ctx context.Context) *slog.Logger {
	l := a.Logger
	if l == nil {
		l = slog.Default()
	}
	if activity.IsActivity(ctx) {
		l = l.With("activity", activity.GetInfo(ctx).ActivityType.Name)
	}
	return l
}
