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
	Progress  Progress
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
	// StreamRetry is the retry policy of ProcessStream: when it is spent the
	// stream is marked error and the run goes on.
	StreamRetry temporal.RetryPolicy
	// StreamTimeout bounds one attempt of one stream.
	StreamTimeout time.Duration
	// HeartbeatTimeout is how soon Temporal gives up on an attempt whose
	// worker died (the activities heartbeat while they call the API), and
	// retries it elsewhere instead of waiting out StreamTimeout.
	HeartbeatTimeout time.Duration
	// BatchSize is how many pending stream ids are fetched at a time.
	BatchSize int
	// MaxStreamsPerExecution bounds the history of one execution; Temporal's
	// own continue-as-new suggestion usually comes first.
	MaxStreamsPerExecution int
}

// DefaultRun is the production configuration: 5 attempts per stream with
// exponential backoff.
func DefaultRun() *Run {
	return &Run{
		StreamRetry: temporal.RetryPolicy{
			InitialInterval:    2 * time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    time.Minute,
			MaximumAttempts:    5,
			NonRetryableErrorTypes: []string{
				activities.ErrTypePermanent, activities.ErrTypeNotFound,
			},
		},
		StreamTimeout:          10 * time.Minute,
		HeartbeatTimeout:       30 * time.Second,
		BatchSize:              50,
		MaxStreamsPerExecution: 500,
	}
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
// root streams (first execution only), every stream FIFO, postprocess,
// finish.
func (r *Run) Execute(ctx workflow.Context, in RunInput) (*RunResult, error) {
	p := &in.Progress
	if err := workflow.SetQueryHandler(ctx, ProgressQuery, func() (Progress, error) { return *p, nil }); err != nil {
		return nil, err
	}
	log := workflow.GetLogger(ctx)

	if !in.Continued {
		if failure := r.setup(ctx, in, p); failure != nil {
			return r.finish(ctx, in, p, failure)
		}
	}

	processed := 0
	counted := false
	for {
		p.Step = "streams"
		var next activities.NextStreamsResult
		if err := workflow.ExecuteActivity(r.bookkeeping(ctx), a.NextStreams,
			activities.NextStreamsInput{RunID: in.RunID, Limit: r.BatchSize, CountPending: !counted}).Get(ctx, &next); err != nil {
			return r.finish(ctx, in, p, &store.Failure{ErrorPoint: "next_streams", Message: err.Error()})
		}
		if !counted {
			p.StreamsPending, counted = next.Pending, true
		}
		if len(next.IDs) == 0 {
			break
		}
		for _, id := range next.IDs {
			delay, err := r.processStream(ctx, in, p, id)
			if err != nil {
				return nil, err
			}
			processed++
			if delay != nil {
				if err := r.sleep(ctx, in.RunID, p, *delay); err != nil {
					return nil, err
				}
				// A rate-limited stream is pending again at its old place:
				// fetch the queue anew to keep FIFO order.
				break
			}
			if processed >= r.MaxStreamsPerExecution || workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
				log.Info("continuing as new", "streamsThisExecution", processed)
				in.Continued = true
				return nil, workflow.NewContinueAsNewError(ctx, RunWorkflowName, in)
			}
		}
	}

	p.Step = "postprocess"
	if err := workflow.ExecuteActivity(r.serviceStep(ctx), a.Postprocess, activities.RunRef{RunID: in.RunID}).Get(ctx, nil); err != nil {
		return r.finish(ctx, in, p, &store.Failure{ErrorPoint: "postprocess", Message: err.Error()})
	}
	return r.finish(ctx, in, p, nil)
}

// setup runs the steps before the streams. A failure there ends the run in
// error, never processed.
func (r *Run) setup(ctx workflow.Context, in RunInput, p *Progress) *store.Failure {
	p.Step = "start"
	var started activities.StartRunResult
	if err := workflow.ExecuteActivity(r.bookkeeping(ctx), a.StartRun, activities.StartRunInput{
		RunID: in.RunID, IntegrationID: in.IntegrationID, Onboarding: in.Onboarding, Service: in.Service,
	}).Get(ctx, &started); err != nil {
		return &store.Failure{ErrorPoint: "start_run", Message: err.Error()}
	}

	p.Step = "preprocess"
	for {
		var delay activities.Delay
		if err := workflow.ExecuteActivity(r.serviceStep(ctx), a.Preprocess, activities.RunRef{RunID: in.RunID}).Get(ctx, &delay); err != nil {
			return &store.Failure{ErrorPoint: "preprocessing", Message: err.Error()}
		}
		if delay.Until.IsZero() {
			break
		}
		if err := r.sleep(ctx, in.RunID, p, delay); err != nil {
			return &store.Failure{ErrorPoint: "preprocessing", Message: err.Error()}
		}
	}

	p.Step = "member attributes"
	if err := workflow.ExecuteActivity(r.bookkeeping(ctx), a.CreateMemberAttributes, activities.RunRef{RunID: in.RunID}).Get(ctx, nil); err != nil {
		return &store.Failure{ErrorPoint: "member_attributes", Message: err.Error()}
	}

	if started.HasStreams {
		return nil
	}
	p.Step = "get streams"
	for {
		var res activities.GetStreamsResult
		if err := workflow.ExecuteActivity(r.serviceStep(ctx), a.GetStreams, activities.RunRef{RunID: in.RunID}).Get(ctx, &res); err != nil {
			return &store.Failure{ErrorPoint: "get_streams", Message: err.Error()}
		}
		if res.Delay.Until.IsZero() {
			return nil
		}
		if err := r.sleep(ctx, in.RunID, p, res.Delay); err != nil {
			return &store.Failure{ErrorPoint: "get_streams", Message: err.Error()}
		}
	}
}

// processStream runs one stream. A stream whose attempts are spent is
// marked error and the run goes on; the returned error is only for the
// workflow itself failing (e.g. cancellation).
func (r *Run) processStream(ctx workflow.Context, in RunInput, p *Progress, streamID string) (*activities.Delay, error) {
	sctx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: r.StreamTimeout,
		HeartbeatTimeout:    r.HeartbeatTimeout,
		RetryPolicy:         &r.StreamRetry,
	})
	var res activities.ProcessStreamResult
	err := workflow.ExecuteActivity(sctx, a.ProcessStream, activities.ProcessStreamInput{RunID: in.RunID, StreamID: streamID}).Get(ctx, &res)
	if err != nil {
		if temporal.IsCanceledError(err) {
			return nil, err
		}
		attempts := int(r.StreamRetry.MaximumAttempts)
		var actErr *temporal.ActivityError
		if errors.As(err, &actErr) && actErr.RetryState() == enumspb.RETRY_STATE_NON_RETRYABLE_FAILURE {
			attempts = 1
		}
		p.StreamsFailed++
		p.StreamsPending = max(p.StreamsPending-1, 0)
		workflow.GetLogger(ctx).Warn("stream failed", "streamId", streamID, "error", err)
		if ferr := workflow.ExecuteActivity(r.bookkeeping(ctx), a.FailStream, activities.FailStreamInput{
			StreamID: streamID, Attempts: attempts, Message: rootMessage(err),
		}).Get(ctx, nil); ferr != nil {
			return nil, ferr
		}
		return nil, nil
	}
	if res.Committed {
		// The stream leaves the queue; its new streams and next page join
		// it (a rate-limited stream stays where it was).
		p.StreamsProcessed++
		p.StreamsPending = max(p.StreamsPending-1+res.NewStreams, 0)
	}
	p.Records += int64(res.Records)
	if res.Delay.Until.IsZero() {
		return nil, nil
	}
	return &res.Delay, nil
}

// sleep pauses the run on a durable timer; the run row says delayed, with
// delayedUntil, meanwhile.
func (r *Run) sleep(ctx workflow.Context, runID string, p *Progress, d activities.Delay) error {
	wait := d.Until.Sub(workflow.Now(ctx))
	if wait <= 0 {
		return nil
	}
	if err := workflow.ExecuteActivity(r.bookkeeping(ctx), a.DelayRun, activities.DelayRunInput{RunID: runID, Delay: d}).Get(ctx, nil); err != nil {
		return err
	}
	p.Sleeping = &d
	workflow.GetLogger(ctx).Info("run delayed", "until", d.Until, "reason", d.Reason)
	if err := workflow.Sleep(ctx, wait); err != nil {
		return err
	}
	p.Sleeping = nil
	return workflow.ExecuteActivity(r.bookkeeping(ctx), a.ResumeRun, activities.RunRef{RunID: runID}).Get(ctx, nil)
}

// finish records the run's end and returns the workflow's outcome: a run
// that ends in error fails the workflow, so Temporal Web shows it failed.
func (r *Run) finish(ctx workflow.Context, in RunInput, p *Progress, failure *store.Failure) (*RunResult, error) {
	p.Step = "finish"
	// A cancelled run still records its end.
	if ctx.Err() != nil {
		ctx, _ = workflow.NewDisconnectedContext(ctx)
		if failure == nil {
			failure = &store.Failure{ErrorPoint: "cancelled", Message: "run cancelled"}
		}
	}
	var state string
	if err := workflow.ExecuteActivity(r.bookkeeping(ctx), a.FinishRun, activities.FinishRunInput{
		RunID: in.RunID, Failure: failure,
	}).Get(ctx, &state); err != nil {
		return nil, err
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

// serviceStep options: steps that call the platform's API besides the
// streams (preprocess, get streams, postprocess), with the stream policy.
func (r *Run) serviceStep(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: r.StreamTimeout,
		HeartbeatTimeout:    r.HeartbeatTimeout,
		RetryPolicy:         &r.StreamRetry,
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
