package workflows

import (
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/crowdflow/crowdflow/activities"
	"github.com/crowdflow/crowdflow/store"
)

// Names as they appear in Temporal Web.
const (
	RunWorkflowName = "IntegrationRun"
	ProgressQuery   = "progress"
)

// WorkflowID is the id of the workflow of an integration: one run at a time.
func WorkflowID(integrationID string) string { return "integration/" + integrationID }

// ServiceWorkflowID is the id of the workflow of a companion service's run
// on an integration (twitter-reach on a twitter integration):
// integration/<integrationId>/<service>. It differs from the integration's
// own, so the two never block each other.
func ServiceWorkflowID(integrationID, service string) string {
	return WorkflowID(integrationID) + "/" + service
}

// RunWorkflowID is the workflow id of the run in: ServiceWorkflowID for a
// companion service's run, WorkflowID otherwise.
func RunWorkflowID(in RunInput) string {
	if in.Service != "" {
		return ServiceWorkflowID(in.IntegrationID, in.Service)
	}
	return WorkflowID(in.IntegrationID)
}

// RunInput starts, or continues, an integration run. It carries ids and
// counters only: never records, settings or tokens.
type RunInput struct {
	RunID         string
	IntegrationID string
	TenantID      string
	Platform      string
	Onboarding    bool
	// Service is set for a run of a companion service (twitter-reach) on
	// the integration; Platform is then the service's name too.
	Service string `json:",omitempty"`
	// Continued is set when the run goes on in a new execution
	// (continue-as-new): its setup steps are done.
	Continued bool
	// Restart is set by continue-run: the first activity takes the ended
	// run up again and puts its failed streams back in the queue. Done in
	// the workflow, so nothing is reset unless the execution could start.
	Restart bool `json:",omitempty"`
	// Slots is how many streams of the run are processed at once (the
	// service's StreamsInFlight when the run started); it stays the same
	// across continue-as-new.
	Slots    int `json:",omitempty"`
	Progress Progress
	// Streak is the current series of rate limits without a page stored
	// in between; it survives continue-as-new.
	Streak RateLimitStreak `json:",omitzero"`
}

// RateLimitStreak is a series of rate limits with nothing stored in
// between. Count sets the backoff; Since (workflow time) bounds how long
// one stream (or setup step) may stay refused.
type RateLimitStreak struct {
	// Key is the stream id, or the setup step, refused last.
	Key   string
	Count int
	// Since is when Key was first refused in this streak.
	Since time.Time
}

// Progress is what the progress query answers.
type Progress struct {
	Step string
	// Streams by state, as this run has seen them: pending is refreshed
	// from the database every batch.
	StreamsPending   int
	StreamsProcessed int
	StreamsFailed    int
	Records          int64
	// Sleeping is set while the run waits on a timer.
	Sleeping *activities.Delay `json:",omitempty"`
}

// RunResult is the workflow's result.
type RunResult struct {
	RunID    string
	State    string
	Progress Progress
}

// Run is the integration run workflow and its tunables. The zero value is
// not usable: take DefaultRun and adjust.
type Run struct {
	// StreamRetry is the retry policy of the steps that call a platform's
	// API (ProcessStream, and Preprocess, GetStreams, Postprocess): when it
	// is spent the stream is marked error and the run goes on.
	StreamRetry temporal.RetryPolicy
	// StreamTimeout bounds one attempt of one stream.
	StreamTimeout time.Duration
	// HeartbeatTimeout is how soon Temporal gives up on an attempt whose
	// worker died (the activities heartbeat while they call the API), and
	// retries it elsewhere instead of waiting out StreamTimeout.
	HeartbeatTimeout time.Duration
	// BatchSize is how many pending stream ids are fetched at a time.
	BatchSize int
	// MaxStreamsPerExecution bounds the history of one execution: the
	// steps that process streams (a slot's ProcessStreams, a retried
	// stream's ProcessStream) it may start before it continues as new.
	// Temporal's own continue-as-new suggestion may come first.
	MaxStreamsPerExecution int
	// SlotStepFor is how long one slot's ProcessStreams step claims
	// streams: longer steps cost fewer history events per page, shorter
	// ones refresh the progress more often.
	SlotStepFor time.Duration
	// MinWait is the floor of every wait: a delay whose end is already
	// past (Retry-After: 0, a reset date in the past) still pauses this
	// long, so nothing loops hot.
	MinWait time.Duration
	// RateLimitBackoffMax caps the floor that doubles with every rate
	// limit in a row (MinWait, 2x, 4x, ...).
	RateLimitBackoffMax time.Duration
	// MaxRateLimitedFor bounds how long one stream (or setup step) may be
	// refused in a row: then it fails honestly instead of waiting for ever.
	MaxRateLimitedFor time.Duration
	// InterruptedRetry paces the new attempts after an interruption (the
	// database unavailable, the worker stopping): first wait, doubling up
	// to the maximum, never giving up. They spend no stream attempt.
	InterruptedRetry    time.Duration
	InterruptedRetryMax time.Duration

	// attemptsSpent is how many attempts of a stream were made before its
	// own step (see handedOver).
	attemptsSpent int
}

// DefaultRun is the production configuration.
//
// A stream gets 14 attempts 2 s, 4 s, ... apart, each wait capped at five
// minutes: the last attempt comes about 34 minutes after the first (see
// RetrySpan), so an API incident of half an hour fails nothing, as
// crowd.dev's minutes-apart retries did not either. A database outage or a
// deploy spends none of them (ErrTypeInterrupted).
func DefaultRun() *Run {
	return &Run{
		StreamRetry: temporal.RetryPolicy{
			InitialInterval:    2 * time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    5 * time.Minute,
			MaximumAttempts:    14,
			NonRetryableErrorTypes: []string{
				activities.ErrTypePermanent, activities.ErrTypeNotFound, activities.ErrTypeInterrupted,
			},
		},
		StreamTimeout:          10 * time.Minute,
		HeartbeatTimeout:       30 * time.Second,
		BatchSize:              50,
		MaxStreamsPerExecution: 500,
		SlotStepFor:            2 * time.Second,
		MinWait:                time.Second,
		RateLimitBackoffMax:    15 * time.Minute,
		MaxRateLimitedFor:      6 * time.Hour,
		InterruptedRetry:       time.Second,
		InterruptedRetryMax:    time.Minute,
	}
}

// RetrySpan is the time from the first attempt of a retry policy to its
// last, not counting the attempts' own duration.
func RetrySpan(p temporal.RetryPolicy) time.Duration {
	var total time.Duration
	wait := p.InitialInterval
	for i := int32(1); i < p.MaximumAttempts; i++ {
		total += min(wait, p.MaximumInterval)
		wait = time.Duration(float64(wait) * p.BackoffCoefficient)
	}
	return total
}

// Register registers the workflow and the activities on a worker.
func (r *Run) Register(w worker.Registry, acts *activities.Activities) {
	w.RegisterWorkflowWithOptions(r.Execute, workflow.RegisterOptions{Name: RunWorkflowName})
	w.RegisterActivity(acts)
	// Webhook deliveries are processed by the same workers (webhook.go).
	RegisterWebhook(w)
}

// The activities are called through a nil pointer for their names only, as
// in samples-go.
var a *activities.Activities

// Execute runs one integration run: start, preprocess, member attributes,
// root streams (first execution only), the streams (FIFO, up to Slots at
// once: runSlots), postprocess, finish.
//
// Determinism: the workflow decides only from its input, activity results
// and workflow.Now/GetInfo, all of which replay identically; waits are
// durations slept on workflow timers. Every path out of it (a failure,
// a cancellation in any step or sleep) goes through finish, which records
// the run's end; a termination cannot run code, and the reconciler
// (Reconcile) ends such rows.
func (r *Run) Execute(ctx workflow.Context, in RunInput) (*RunResult, error) {
	p := &in.Progress
	if err := workflow.SetQueryHandler(ctx, ProgressQuery, func() (Progress, error) { return *p, nil }); err != nil {
		return nil, err
	}

	if in.Continued {
		// A new execution records itself on the run row, so
		// "workflowRunId" names the execution that runs now.
		var started activities.StartRunResult
		if err := workflow.ExecuteActivity(r.bookkeeping(ctx), a.StartRun, activities.StartRunInput{
			RunID: in.RunID, IntegrationID: in.IntegrationID, Onboarding: in.Onboarding, Continued: true,
		}).Get(ctx, &started); err != nil {
			return r.finish(ctx, in, p, &store.Failure{ErrorPoint: "start_run", Message: err.Error()})
		}
		if in.Slots == 0 {
			in.Slots = started.StreamsInFlight
		}
	} else {
		failure, next := r.setup(ctx, &in, p)
		if next != nil {
			return nil, next
		}
		if failure != nil {
			return r.finish(ctx, in, p, failure)
		}
	}

	if workflow.GetVersion(ctx, parallelStreamsChange, workflow.DefaultVersion, 1) == 1 {
		failure, next := r.runSlots(ctx, &in, p)
		if next != nil {
			return nil, next
		}
		if failure != nil {
			return r.finish(ctx, in, p, failure)
		}
	} else if failure, next := r.streamsOneByOne(ctx, &in, p); next != nil || failure != nil {
		if next != nil {
			return nil, next
		}
		return r.finish(ctx, in, p, failure)
	}

	p.Step = "postprocess"
	if err := r.callService(ctx, a.Postprocess, activities.RunRef{RunID: in.RunID}, nil); err != nil {
		return r.finish(ctx, in, p, &store.Failure{ErrorPoint: "postprocess", Message: err.Error()})
	}
	return r.finish(ctx, in, p, nil)
}

// streamsOneByOne is how executions started before parallel streams
// process their streams, kept so their histories replay: one stream at a
// time, FIFO, each its own ProcessStream step.
func (r *Run) streamsOneByOne(ctx workflow.Context, inp *RunInput, p *Progress) (*store.Failure, error) {
	in := *inp
	log := workflow.GetLogger(ctx)
	processed := 0
	counted := false
	for {
		p.Step = "streams"
		var next activities.NextStreamsResult
		if err := workflow.ExecuteActivity(r.bookkeeping(ctx), a.NextStreams,
			activities.NextStreamsInput{RunID: in.RunID, Limit: r.BatchSize, CountPending: !counted}).Get(ctx, &next); err != nil {
			return &store.Failure{ErrorPoint: "next_streams", Message: err.Error()}, nil
		}
		if !counted {
			p.StreamsPending, counted = next.Pending, true
		}
		if len(next.IDs) == 0 {
			break
		}
		for _, id := range next.IDs {
			delay, err := r.processStream(ctx, &in, p, id)
			if err != nil {
				return &store.Failure{ErrorPoint: "process_stream", StreamID: id, Message: err.Error()}, nil
			}
			processed++
			if delay != nil {
				if err := r.sleep(ctx, in.RunID, p, *delay); err != nil {
					return &store.Failure{ErrorPoint: "delay", Message: err.Error()}, nil
				}
			}
			// Checked after every stream and every wait: a long throttle
			// (a wait per refusal) grows the history as fast as pages do.
			if processed >= r.MaxStreamsPerExecution || workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
				log.Info("continuing as new", "streamsThisExecution", processed)
				in.Continued, in.Restart = true, false
				return nil, workflow.NewContinueAsNewError(ctx, RunWorkflowName, in)
			}
			if delay != nil {
				// A rate-limited stream is pending again at its old place:
				// fetch the queue anew to keep FIFO order.
				break
			}
		}
	}
	return nil, nil
}

// setup runs the steps before the streams. A failure there ends the run in
// error, never processed. When the history grows long while a setup step
// is rate limited, setup returns a continue-as-new error instead: the new
// execution does the setup again, and every step of it keeps what the last
// one did (the row, the pipeline data, the member attributes, the streams).
func (r *Run) setup(ctx workflow.Context, in *RunInput, p *Progress) (*store.Failure, error) {
	p.Step = "start"
	var started activities.StartRunResult
	if err := workflow.ExecuteActivity(r.bookkeeping(ctx), a.StartRun, activities.StartRunInput{
		RunID: in.RunID, IntegrationID: in.IntegrationID, Onboarding: in.Onboarding, Service: in.Service, Restart: in.Restart,
	}).Get(ctx, &started); err != nil {
		return &store.Failure{ErrorPoint: "start_run", Message: err.Error()}, nil
	}
	// The restart is done: a later execution must not do it again.
	in.Restart = false
	if in.Slots == 0 {
		in.Slots = started.StreamsInFlight
	}

	p.Step = "preprocess"
	for {
		var delay activities.Delay
		if err := r.callService(ctx, a.Preprocess, activities.RunRef{RunID: in.RunID}, &delay); err != nil {
			return &store.Failure{ErrorPoint: "preprocessing", Message: err.Error()}, nil
		}
		if delay.IsZero() {
			break
		}
		if failure, next := r.setupDelay(ctx, in, p, "preprocess", "preprocessing", delay); failure != nil || next != nil {
			return failure, next
		}
	}
	in.Streak = RateLimitStreak{}

	p.Step = "member attributes"
	if err := workflow.ExecuteActivity(r.bookkeeping(ctx), a.CreateMemberAttributes, activities.RunRef{RunID: in.RunID}).Get(ctx, nil); err != nil {
		return &store.Failure{ErrorPoint: "member_attributes", Message: err.Error()}, nil
	}

	if started.HasStreams {
		return nil, nil
	}
	p.Step = "get streams"
	for {
		var res activities.GetStreamsResult
		if err := r.callService(ctx, a.GetStreams, activities.RunRef{RunID: in.RunID}, &res); err != nil {
			return &store.Failure{ErrorPoint: "get_streams", Message: err.Error()}, nil
		}
		if res.Delay.IsZero() {
			in.Streak = RateLimitStreak{}
			return nil, nil
		}
		if failure, next := r.setupDelay(ctx, in, p, "get streams", "get_streams", res.Delay); failure != nil || next != nil {
			return failure, next
		}
	}
}

// setupDelay waits out a setup step's rate limit, fails the step when it
// has been refused for too long, and continues as new when the history
// says so.
func (r *Run) setupDelay(ctx workflow.Context, in *RunInput, p *Progress, step, errorPoint string, d activities.Delay) (*store.Failure, error) {
	if msg, exhausted := r.rateLimited(ctx, in, step, d); exhausted {
		return &store.Failure{ErrorPoint: errorPoint, Message: msg}, nil
	}
	if err := r.sleep(ctx, in.RunID, p, r.withFloor(*in, d)); err != nil {
		return &store.Failure{ErrorPoint: errorPoint, Message: err.Error()}, nil
	}
	if workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
		workflow.GetLogger(ctx).Info("continuing as new during setup", "step", step)
		return nil, workflow.NewContinueAsNewError(ctx, RunWorkflowName, *in)
	}
	return nil, nil
}

// rateLimited records one more rate limit of key in the streak. It reports
// exhausted, with the message to fail with, when key has been refused
// without a break for MaxRateLimitedFor or longer.
func (r *Run) rateLimited(ctx workflow.Context, in *RunInput, key string, d activities.Delay) (string, bool) {
	if d.Kind != activities.DelayRateLimit {
		return "", false
	}
	now := workflow.Now(ctx)
	if in.Streak.Key != key {
		// Another stream refused: the backoff goes on (the API is still
		// throttling), the time bound starts again for this one.
		in.Streak.Key, in.Streak.Since = key, now
	}
	in.Streak.Count++
	if r.MaxRateLimitedFor > 0 && now.Sub(in.Streak.Since) >= r.MaxRateLimitedFor {
		msg := fmt.Sprintf("rate limited without a break for %s (%d refusals in a row); last: %s",
			now.Sub(in.Streak.Since).Round(time.Second), in.Streak.Count, d.Reason)
		in.Streak = RateLimitStreak{}
		return msg, true
	}
	return "", false
}

// withFloor gives a wait its floor: MinWait at least, and for the n-th rate
// limit in a row MinWait x 2^(n-1), capped at RateLimitBackoffMax.
func (r *Run) withFloor(in RunInput, d activities.Delay) activities.Delay {
	floor := max(r.MinWait, 0)
	if d.Kind == activities.DelayRateLimit {
		for i := 1; i < in.Streak.Count && floor < r.RateLimitBackoffMax; i++ {
			floor *= 2
		}
		if r.RateLimitBackoffMax > 0 {
			floor = min(floor, max(r.RateLimitBackoffMax, r.MinWait))
		}
	}
	if d.Wait < floor {
		d.Wait = floor
	}
	return d
}

// processStream runs one stream. A stream whose attempts are spent is
// marked error and the run goes on; the returned error is only for the
// workflow itself failing (e.g. cancellation).
func (r *Run) processStream(ctx workflow.Context, in *RunInput, p *Progress, streamID string) (*activities.Delay, error) {
	var res activities.ProcessStreamResult
	err := r.callService(ctx, a.ProcessStream, activities.ProcessStreamInput{
		RunID: in.RunID, StreamID: streamID, AttemptsBefore: r.attemptsSpent,
	}, &res)
	if err != nil {
		if temporal.IsCanceledError(err) || ctx.Err() != nil {
			return nil, err
		}
		attempts := int(r.StreamRetry.MaximumAttempts) + r.attemptsSpent
		var actErr *temporal.ActivityError
		if errors.As(err, &actErr) && actErr.RetryState() == enumspb.RETRY_STATE_NON_RETRYABLE_FAILURE {
			attempts = 1
		}
		return nil, r.failStream(ctx, p, streamID, attempts, rootMessage(err))
	}
	if res.Committed {
		// The stream leaves the queue; its new streams and next page join
		// it (a rate-limited stream stays where it was). A stored page
		// ends any streak of rate limits.
		p.StreamsProcessed++
		p.StreamsPending = max(p.StreamsPending-1+res.NewStreams, 0)
		in.Streak = RateLimitStreak{}
	}
	p.Records += int64(res.Records)
	if res.Delay.IsZero() {
		return nil, nil
	}
	if msg, exhausted := r.rateLimited(ctx, in, streamID, res.Delay); exhausted {
		return nil, r.failStream(ctx, p, streamID, 0, msg)
	}
	d := r.withFloor(*in, res.Delay)
	return &d, nil
}

// failStream marks a stream error; the run goes on with the others.
func (r *Run) failStream(ctx workflow.Context, p *Progress, streamID string, attempts int, msg string) error {
	p.StreamsFailed++
	p.StreamsPending = max(p.StreamsPending-1, 0)
	workflow.GetLogger(ctx).Warn("stream failed", "streamId", streamID, "error", msg)
	return workflow.ExecuteActivity(r.bookkeeping(ctx), a.FailStream, activities.FailStreamInput{
		StreamID: streamID, Attempts: attempts, Message: msg,
	}).Get(ctx, nil)
}

// callService runs a step that calls the platform's API with the stream
// retry policy. An interruption (the database unavailable, the worker
// stopping) is not the API's fault: the step is run again after a pause
// that doubles up to InterruptedRetryMax, for as long as it takes, each
// time with its attempts whole.
func (r *Run) callService(ctx workflow.Context, activity any, input any, result any) error {
	sctx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: r.StreamTimeout,
		HeartbeatTimeout:    r.HeartbeatTimeout,
		RetryPolicy:         &r.StreamRetry,
	})
	pause := max(r.InterruptedRetry, r.MinWait, time.Millisecond)
	for {
		err := workflow.ExecuteActivity(sctx, activity, input).Get(ctx, result)
		var appErr *temporal.ApplicationError
		if err == nil || ctx.Err() != nil || !errors.As(err, &appErr) || appErr.Type() != activities.ErrTypeInterrupted {
			return err
		}
		workflow.GetLogger(ctx).Warn("step interrupted; trying again", "pause", pause, "error", err)
		if err := workflow.Sleep(ctx, pause); err != nil {
			return err
		}
		pause = min(pause*2, max(r.InterruptedRetryMax, pause))
	}
}

// sleep pauses the run for d.Wait on a durable timer; the run row says
// delayed, with delayedUntil, meanwhile. d.Wait has its floor already.
func (r *Run) sleep(ctx workflow.Context, runID string, p *Progress, d activities.Delay) error {
	if err := workflow.ExecuteActivity(r.bookkeeping(ctx), a.DelayRun, activities.DelayRunInput{RunID: runID, Delay: d}).Get(ctx, nil); err != nil {
		return err
	}
	// For the progress query only: the end by workflow time.
	shown := d
	shown.Until = workflow.Now(ctx).Add(d.Wait)
	p.Sleeping = &shown
	workflow.GetLogger(ctx).Info("run delayed", "for", d.Wait, "reason", d.Reason)
	if err := workflow.Sleep(ctx, d.Wait); err != nil {
		return err
	}
	p.Sleeping = nil
	return workflow.ExecuteActivity(r.bookkeeping(ctx), a.ResumeRun, activities.RunRef{RunID: runID}).Get(ctx, nil)
}

// finish records the run's end and returns the workflow's outcome: a run
// that ends in error fails the workflow, so Temporal Web shows it failed,
// and a cancelled run, its end recorded, shows cancelled.
func (r *Run) finish(ctx workflow.Context, in RunInput, p *Progress, failure *store.Failure) (*RunResult, error) {
	p.Step = "finish"
	p.Sleeping = nil
	cancelled := ctx.Err() != nil
	if cancelled {
		// A cancelled context cannot run activities: the end is recorded
		// on a disconnected one.
		ctx, _ = workflow.NewDisconnectedContext(ctx)
		failure = &store.Failure{ErrorPoint: "cancelled", Message: "run cancelled"}
	}
	var state string
	if err := workflow.ExecuteActivity(r.bookkeeping(ctx), a.FinishRun, activities.FinishRunInput{
		RunID: in.RunID, Failure: failure,
	}).Get(ctx, &state); err != nil {
		return nil, err
	}
	if cancelled {
		return nil, temporal.NewCanceledError("run " + in.RunID + " cancelled")
	}
	res := &RunResult{RunID: in.RunID, State: state, Progress: *p}
	if state != store.RunProcessed {
		msg := fmt.Sprintf("run %s ended in %s", in.RunID, state)
		if failure != nil {
			msg += fmt.Sprintf(" at %s: %s", failure.ErrorPoint, failure.Message)
		} else if p.StreamsFailed > 0 {
			msg += fmt.Sprintf(": %d stream(s) failed", p.StreamsFailed)
		}
		return res, temporal.NewNonRetryableApplicationError(msg, "RunFailed", nil, res)
	}
	return res, nil
}

// bookkeeping options: database steps, retried until the database answers
// (a Postgres restart must not fail a run), except for missing rows.
func (r *Run) bookkeeping(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        time.Second,
			BackoffCoefficient:     2,
			MaximumInterval:        time.Minute,
			NonRetryableErrorTypes: []string{activities.ErrTypePermanent, activities.ErrTypeNotFound},
		},
	})
}

// rootMessage is the innermost message of an activity error: the one that
// names the stream and the call that failed.
func rootMessage(err error) string {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err.Error()
		}
		err = next
	}
}
