package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/crowdflow/crowdflow/activities"
	"github.com/crowdflow/crowdflow/store"
)

// parallelStreamsChange marks the executions that process their streams
// in slots (runSlots); older histories replay the one-at-a-time loop.
const parallelStreamsChange = "parallel-streams"

// slot is one of the run's N lanes of stream processing.
type slot struct {
	busy bool
	// retry is a stream whose page failed in the slot's last step: the
	// slot's next step is that stream's own, with the retry policy.
	retry string
	// startedAt is the value of changes when its last step started: a slot
	// whose step found nothing to claim is not started again until a later
	// step may have added streams.
	startedAt int
}

// slotDone is a slot's step, ended.
type slotDone struct {
	Slot  int
	Drain *activities.ProcessStreamsResult
	// Delay is a retried stream's (ProcessStream) wait.
	Delay *activities.Delay
	// Failure ends the run: a step that could not be done.
	Failure *store.Failure
}

// runSlots processes the run's streams in up to in.Slots lanes at once.
// Each lane runs ProcessStreams steps, which claim the oldest pending
// streams one at a time (FIFO across lanes, never one stream twice); a
// stream whose page failed is retried in its lane's next step with the
// stream retry policy.
//
// When a step comes back asking the run to wait (a rate limit of the
// credential, a service's sleep, the global limit), the run is gated in
// the database already: no lane starts anything, the lanes in flight
// finish, and the run sleeps once, until the latest end asked for. A
// continue-as-new waits for the lanes in flight too, so no step outlives
// its execution.
//
// It returns the failure that ends the run, or a continue-as-new error.
func (r *Run) runSlots(ctx workflow.Context, in *RunInput, p *Progress) (*store.Failure, error) {
	slots := make([]slot, max(in.Slots, 1))
	done := workflow.NewBufferedChannel(ctx, len(slots))
	busy, steps := 0, 0
	// changes counts the steps that may have changed the queue.
	changes := 1
	draining := false
	var (
		gateEnd    time.Time // zero: no gate
		gate       activities.Delay
		gateStream string
		// gateFound: the gate's wait is only what a slot found left of it.
		gateFound  bool
		hold       *activities.Delay
		holdStream string
		// stored is set when a page was stored since the last wait: the
		// streak of rate limits is broken.
		stored bool
	)

	start := func(i int) {
		s := &slots[i]
		s.busy, s.startedAt = true, changes
		busy++
		steps++
		retry := s.retry
		s.retry = ""
		yield := p.StreamsPending < len(slots)
		// The floor of the next rate limit's wait.
		next := *in
		next.Streak.Count++
		minGate := r.withFloor(next, activities.Delay{Kind: activities.DelayRateLimit}).Wait
		workflow.Go(ctx, func(ctx workflow.Context) {
			out := slotDone{Slot: i}
			var err error
			if retry != "" {
				out.Delay, err = r.handedOver(ctx, in, p, retry)
				if err != nil && ctx.Err() == nil {
					out.Failure = &store.Failure{ErrorPoint: "process_stream", StreamID: retry, Message: err.Error()}
				}
			} else {
				var res activities.ProcessStreamsResult
				err = r.callService(ctx, a.ProcessStreams, activities.ProcessStreamsInput{
					RunID: in.RunID, Slot: i, For: r.SlotStepFor, YieldOnNewStreams: yield, MinGate: minGate,
				}, &res)
				if err == nil {
					out.Drain = &res
				} else if ctx.Err() == nil {
					out.Failure = &store.Failure{ErrorPoint: "process_streams", Message: rootMessage(err)}
				}
			}
			done.Send(ctx, out)
		})
	}

	// wait sleeps out a wait with every slot idle; the streams it held
	// may be claimed after it.
	wait := func(d activities.Delay, streamID string) *store.Failure {
		if stored {
			in.Streak, stored = RateLimitStreak{}, false
		}
		changes++
		return r.waitOrFail(ctx, in, p, streamID, d)
	}

	for {
		p.Step = "streams"
		if !draining && gateEnd.IsZero() {
			for i := range slots {
				if s := &slots[i]; !s.busy && (s.retry != "" || s.startedAt < changes) {
					start(i)
				}
			}
		}
		if busy == 0 {
			launchable := false
			for _, s := range slots {
				launchable = launchable || s.retry != "" || s.startedAt < changes
			}
			switch {
			case !gateEnd.IsZero():
				d := gate
				d.Wait = gateEnd.Sub(workflow.Now(ctx))
				if failure := wait(d, gateStream); failure != nil {
					return failure, nil
				}
				gateEnd, gateStream = time.Time{}, ""
				continue
			case !launchable && hold == nil:
				// Every slot's last step found nothing to claim, after
				// every other step had ended: the queue is empty.
				return nil, nil
			case draining:
				workflow.GetLogger(ctx).Info("continuing as new", "stepsThisExecution", steps)
				in.Continued, in.Restart = true, false
				return nil, workflow.NewContinueAsNewError(ctx, RunWorkflowName, *in)
			case !launchable:
				if failure := wait(*hold, holdStream); failure != nil {
					return failure, nil
				}
				hold = nil
				continue
			}
		}

		var d slotDone
		done.Receive(ctx, &d)
		busy--
		slots[d.Slot].busy = false
		if d.Failure != nil || ctx.Err() != nil {
			// Let the other lanes end before the run records its end: a
			// cancelled run's lanes are cancelled with it.
			for ; busy > 0; busy-- {
				var other slotDone
				done.Receive(ctx, &other)
			}
			if d.Failure == nil {
				d.Failure = &store.Failure{ErrorPoint: "process_streams", Message: "cancelled"}
			}
			return d.Failure, nil
		}
		var wait *activities.Delay
		var waitStream string
		gated := false
		switch {
		case d.Drain != nil:
			res := d.Drain
			p.StreamsPending = res.Tally.Pending + res.Tally.Processing
			p.StreamsProcessed, p.StreamsFailed, p.Records = res.Tally.Processed, res.Tally.Failed, res.Tally.Records
			if res.Committed > 0 || res.Failed > 0 || res.Retry != "" {
				changes++
			}
			if res.Committed > 0 {
				stored = true
			}
			slots[d.Slot].retry = res.Retry
			if res.Empty {
				hold, holdStream = nil, ""
				if !res.Hold.IsZero() {
					h := res.Hold
					hold, holdStream = &h, res.HoldStream
				}
			}
			if !res.Delay.IsZero() {
				wait, waitStream, gated = &res.Delay, res.DelayStream, res.Gated
			}
		default:
			// A retried stream's own step.
			changes++
			wait, waitStream = d.Delay, ""
		}
		if wait != nil {
			// The run sleeps once, until the latest end asked for. A slot
			// that only found the gate closed asks for nothing new: its
			// wait counts only when no other slot's does (its result was
			// lost).
			end := workflow.Now(ctx).Add(wait.Wait)
			switch {
			case gated && !gateEnd.IsZero():
			case gateEnd.IsZero(), gateFound && !gated, end.After(gateEnd):
				gateEnd, gate, gateStream, gateFound = end, *wait, waitStream, gated
			}
		}
		if !draining && (steps >= r.MaxStreamsPerExecution || workflow.GetInfo(ctx).GetContinueAsNewSuggested()) {
			draining = true
		}
	}
}

// waitOrFail sleeps out a wait the run's lanes came back with, and opens
// the run's gate after it. When streamID has been refused for too long
// (MaxRateLimitedFor), it fails that stream instead, opens the gate at
// once, and the run goes on with its other streams.
func (r *Run) waitOrFail(ctx workflow.Context, in *RunInput, p *Progress, streamID string, d activities.Delay) *store.Failure {
	if msg, exhausted := r.rateLimited(ctx, in, streamID, d); exhausted && streamID != "" {
		if err := r.failStream(ctx, p, streamID, 0, msg); err != nil {
			return &store.Failure{ErrorPoint: "process_stream", StreamID: streamID, Message: err.Error()}
		}
		if err := workflow.ExecuteActivity(r.bookkeeping(ctx), a.ResumeRun, activities.RunRef{RunID: in.RunID}).Get(ctx, nil); err != nil {
			return &store.Failure{ErrorPoint: "delay", Message: err.Error()}
		}
		return nil
	}
	if err := r.sleep(ctx, in.RunID, p, r.withFloor(*in, d)); err != nil {
		return &store.Failure{ErrorPoint: "delay", Message: err.Error()}
	}
	return nil
}

// handedOver runs a stream whose page failed in a slot in its own step,
// with what is left of the stream retry policy: the first wait, then the
// remaining attempts, spaced as the policy spaces them. The stream gets
// the policy's attempts in all, as a stream of the one-by-one loop did.
func (r *Run) handedOver(ctx workflow.Context, in *RunInput, p *Progress, streamID string) (*activities.Delay, error) {
	if err := workflow.Sleep(ctx, r.StreamRetry.InitialInterval); err != nil {
		return nil, err
	}
	rest := *r
	policy := r.StreamRetry
	if policy.MaximumAttempts > 1 {
		policy.MaximumAttempts--
		rest.attemptsSpent = 1
	}
	next := time.Duration(float64(policy.InitialInterval) * max(policy.BackoffCoefficient, 1))
	if policy.MaximumInterval > 0 {
		next = min(next, policy.MaximumInterval)
	}
	policy.InitialInterval = next
	rest.StreamRetry = policy
	return rest.processStream(ctx, in, p, streamID)
}
