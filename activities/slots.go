package activities

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/store"
)

// ProcessStreamsInput runs one slot of a run for a while.
type ProcessStreamsInput struct {
	RunID string
	// Slot is the slot's number in the run's workflow (0 .. N-1): the
	// streams it claims are marked with it, so the same slot, and no
	// other, takes up a stream it left unfinished.
	Slot int
	// For is how long the slot keeps claiming streams; the stream it has
	// when the time is up is finished first.
	For time.Duration
	// YieldOnNewStreams makes the slot return as soon as a page it
	// committed added streams: other slots are idle for want of work.
	YieldOnNewStreams bool
	// MinGate is the shortest the run is gated for when a page asks it to
	// wait: the workflow's floor for its next wait. A Retry-After of 0
	// must not let the other slots go on claiming while the run's sleep
	// is decided.
	MinGate time.Duration `json:",omitempty"`
}

// claimant is the claimedBy of a slot's streams.
func claimant(slot int) string { return fmt.Sprintf("slot-%d", slot) }

// ProcessStreamsResult is what a slot did and why it stopped. It carries
// counts and ids only.
type ProcessStreamsResult struct {
	// Committed counts the pages this slot stored; Records and NewStreams
	// are theirs.
	Committed  int
	Records    int
	NewStreams int
	// Failed counts the streams failed for good here (a permanent error).
	Failed int
	// Empty: the slot found no stream it could claim (the queue is empty,
	// or held: see Hold).
	Empty bool
	// Retry is a stream whose page failed with an error worth retrying:
	// the workflow gives it its own step with the stream retry policy.
	Retry string
	// Delay is set when the whole run must wait (the credential's rate
	// limit, a service's sleep, the global limit); the run is gated in the
	// database already, so no slot claims meanwhile. DelayStream is the
	// stream refused, for the workflow's streak of rate limits.
	Delay       Delay
	DelayStream string
	// Gated is set with Empty and Delay when the slot found the run gated
	// by another slot (or by a step whose result was lost): Delay is what
	// is left of that gate, not a new wait.
	Gated bool `json:",omitempty"`
	// Hold is set with Empty when pending streams are held back by their
	// route's rate limit: the earliest may be claimed after Hold.Wait.
	Hold       Delay
	HoldStream string
	// Tally is the run's streams and records when the slot stopped.
	Tally store.RunTally
}

// ProcessStreams is one slot of a run: it claims the run's streams one at
// a time, oldest first, and processes each as ProcessStream does, until
// its time is up, the queue has nothing for it, or the run must wait.
//
// Several slots of a run run at once, each its own activity, so up to N
// streams are in flight; and one activity processes many pages, so the
// engine's cost per page is a claim and a commit, not a round of
// Temporal scheduling. Every page is still its own transaction: a slot cut
// short at any point loses nothing and doubles nothing, and its next step
// takes its unfinished stream up again (ClaimStream).
func (a *Activities) ProcessStreams(ctx context.Context, in ProcessStreamsInput) (ProcessStreamsResult, error) {
	ctx = a.apiContext(ctx)
	var current atomic.Value
	current.Store("")
	defer a.heartbeatWith(ctx, func() any { return current.Load() })()

	var out ProcessStreamsResult
	rc, svc, err := a.runContext(ctx, in.RunID)
	if err != nil {
		return out, err
	}
	cfg := svc.Config()
	limit := cfg.EffectiveLimit(rc.Onboarding)
	stopAt := time.Now().Add(in.For)

	for first := true; ; first = false {
		if workerStopping(ctx) {
			// A rolling restart: the slot's next step, on another worker,
			// goes on where this one stopped, with nothing spent.
			return out, interrupted("worker stopping", nil)
		}
		if ctx.Err() != nil {
			return out, ctx.Err()
		}
		if !first && time.Now().After(stopAt) {
			break
		}
		st, err := a.Store.ClaimStream(ctx, in.RunID, claimant(in.Slot), first)
		if err != nil {
			return out, wrap(err, "claim a stream")
		}
		if st == nil {
			out.Empty = true
			if err := a.holdOf(ctx, in.RunID, &out); err != nil {
				return out, err
			}
			break
		}
		// The limit is checked with a stream in hand, so a run whose last
		// page used it up ends instead of waiting for nothing. With N
		// slots, at most one page per slot is stored past the limit.
		if until, err := a.Store.CheckLimit(ctx, rc.Integration.ID, limit, cfg.LimitResetFrequency); err != nil {
			return out, wrap(err, "check global limit")
		} else if !until.IsZero() {
			out.Delay = delayUntil(DelayGlobalLimit, until, "global limit reached")
			if err := a.Store.GateRun(ctx, in.RunID, max(out.Delay.Wait, in.MinGate)); err != nil {
				return out, wrap(err, "hold the run")
			}
			if err := a.Store.ResetStream(ctx, st.ID); err != nil {
				return out, wrap(err, "put the stream back")
			}
			break
		}
		current.Store(st.Name)
		pg, err := a.processPage(ctx, rc, svc, st)
		if err != nil {
			return out, err
		}
		if pg.rateLimited != nil {
			if stop, err := a.refused(ctx, in, st, pg, &out); err != nil || stop {
				return out, err
			}
			continue
		}
		if pg.failed != nil {
			if stop, err := a.failed(ctx, st, pg.failed, &out); err != nil || stop {
				return out, err
			}
			continue
		}
		r := pg.result
		if !r.AlreadyProcessed {
			out.Committed++
			out.Records += r.Records
			out.NewStreams += r.NewStreams
		}
		if !r.Delay.IsZero() {
			out.Delay, out.DelayStream = r.Delay, st.ID
			if err := a.Store.GateRun(ctx, in.RunID, max(r.Delay.Wait, in.MinGate)); err != nil {
				return out, wrap(err, "hold the run")
			}
			break
		}
		if in.YieldOnNewStreams && r.NewStreams > 0 {
			break
		}
	}
	return out, a.tally(ctx, in.RunID, &out)
}

// refused handles a page refused by a rate limit. A route's limit holds
// back that stream only and the slot goes on; the credential's holds the
// whole run, and the slot stops.
func (a *Activities) refused(ctx context.Context, in ProcessStreamsInput, st *store.Stream, pg page, out *ProcessStreamsResult) (stop bool, err error) {
	d := pg.rateLimitDelay(st)
	if pg.rateLimited.Bucket != "" {
		return false, wrap(a.Store.HoldStream(ctx, st.ID, d.Wait), "hold a rate-limited stream")
	}
	// Gate first, then put the stream back: no other slot may take it up
	// in between.
	if err := a.Store.GateRun(ctx, in.RunID, max(d.Wait, in.MinGate)); err != nil {
		return true, wrap(err, "hold the run")
	}
	if err := a.Store.ResetStream(ctx, st.ID); err != nil {
		return true, wrap(err, "reset rate-limited stream")
	}
	out.Delay, out.DelayStream = d, st.ID
	return true, a.tally(ctx, in.RunID, out)
}

// failed handles a page the service failed. An error that retrying cannot
// fix fails the stream at once and the slot goes on; any other is handed
// to the workflow, which retries the stream in its own step, and the slot
// stops. The stream stays claimed meanwhile.
func (a *Activities) failed(ctx context.Context, st *store.Stream, ferr error, out *ProcessStreamsResult) (stop bool, err error) {
	if workerStopping(ctx) {
		// The failure is the stop's, not the API's: the slot's next step
		// takes the stream up again with nothing spent.
		return true, interrupted("worker stopping", ferr)
	}
	if ctx.Err() != nil {
		return true, ctx.Err()
	}
	a.recordAttemptError(ctx, st, 1, ferr)
	if integrations.IsPermanent(ferr) {
		out.Failed++
		return false, wrap(a.Store.FailStream(ctx, st.ID, 1, store.Failure{
			ErrorPoint: "process_stream", Message: ferr.Error(), StreamID: st.ID, Stream: st.Name,
		}), "mark stream error")
	}
	out.Retry = st.ID
	return true, a.tally(ctx, st.RunID, out)
}

// holdOf fills in what holds back the run's pending streams, when a slot
// found none to claim.
func (a *Activities) holdOf(ctx context.Context, runID string, out *ProcessStreamsResult) error {
	h, err := a.Store.RunHold(ctx, runID)
	if err != nil {
		return wrap(err, "look for held streams")
	}
	if h.Gated {
		// Gated by a step whose result was lost (its retry finds the
		// gate), or before a continue-as-new: wait it out like any.
		out.Delay = Delay{Kind: DelaySleep, Wait: h.Wait, Until: time.Now().Add(h.Wait), Reason: "the run is held"}
		out.Gated = true
		return nil
	}
	if h.StreamID != "" {
		out.Hold = Delay{Kind: DelayRateLimit, Wait: h.Wait, Until: time.Now().Add(h.Wait),
			Reason: fmt.Sprintf("stream %s held back: its route is rate limited", h.Stream)}
		out.HoldStream = h.StreamID
	}
	return nil
}

// tally sets the run's counts on the result.
func (a *Activities) tally(ctx context.Context, runID string, out *ProcessStreamsResult) error {
	t, err := a.Store.TallyRun(ctx, runID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	out.Tally = t
	return wrap(err, "count the run's streams")
}

// heartbeatWith is heartbeat with details, when details is not nil: what
// the step works on now (a stream's name), shown in Temporal Web.
func (a *Activities) heartbeatWith(ctx context.Context, details func() any) (stop func()) {
	if !activity.IsActivity(ctx) {
		return func() {}
	}
	every := a.HeartbeatInterval
	if every <= 0 {
		every = 5 * time.Second
	}
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				if details == nil {
					activity.RecordHeartbeat(ctx)
				} else {
					activity.RecordHeartbeat(ctx, details())
				}
			}
		}
	}()
	return func() { close(done) }
}
