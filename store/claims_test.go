package store_test

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/store"
)

// addStreams gives the run n more pending streams named s-000, s-001, ...
func addStreams(t *testing.T, s *store.Store, run *store.Run, n int) []string {
	t.Helper()
	var streams []integrations.Stream
	var names []string
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("s-%03d", i)
		names = append(names, name)
		streams = append(streams, integrations.Stream{Name: name})
	}
	_, err := s.AddStreams(context.Background(), run, streams)
	require.NoError(t, err)
	return names
}

// Eight slots claim at once from a queue of 200: every stream is taken
// exactly once, and each slot takes its streams oldest first.
func TestClaimNeverTakesAStreamTwice(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	run, root := newRun(t, s, "test")
	addStreams(t, s, run, 199)

	const slots = 8
	var mu sync.Mutex
	taken := map[string]string{}
	perSlot := make([][]string, slots)
	var wg sync.WaitGroup
	for slot := 0; slot < slots; slot++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			claimant := fmt.Sprintf("slot-%d", slot)
			for {
				st, err := s.ClaimStream(ctx, run.ID, claimant, true)
				if !assert.NoError(t, err) || st == nil {
					return
				}
				mu.Lock()
				if prev, ok := taken[st.ID]; ok {
					t.Errorf("stream %s taken by %s and %s", st.Name, prev, claimant)
				}
				taken[st.ID] = claimant
				perSlot[slot] = append(perSlot[slot], st.Name)
				mu.Unlock()
				// Done with it: the next claim takes a new one.
				_, err = s.CommitStream(ctx, store.Page{Stream: st, Platform: "test", Result: &integrations.StreamResult{}})
				require.NoError(t, err)
			}
		}()
	}
	wg.Wait()
	assert.Len(t, taken, 200)
	assert.Contains(t, taken, root.ID, "the root was taken")
	for slot, names := range perSlot {
		assert.True(t, sort.StringsAreSorted(names[min(1, len(names)):]), "slot %d took its streams oldest first: %v", slot, names)
	}
}

// Claims follow the queue's order, a slot takes back the stream it left
// unfinished before anything new, and no other slot takes that stream.
func TestClaimIsFIFOAndASlotTakesBackItsOwn(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	run, _ := newRun(t, s, "test")
	addStreams(t, s, run, 3)

	claim := func(claimant string) string {
		st, err := s.ClaimStream(ctx, run.ID, claimant, true)
		require.NoError(t, err)
		if st == nil {
			return ""
		}
		return st.Name
	}
	assert.Equal(t, "root", claim("slot-0"))
	// slot-0's step dies with root in hand; slot-1 goes on with the queue.
	assert.Equal(t, "s-000", claim("slot-1"))
	assert.Equal(t, "root", claim("slot-0"), "slot-0 takes its own stream back first")
	assert.Equal(t, "s-000", claim("slot-1"), "and so does slot-1")
	var states []string
	rows, err := s.Pool().Query(ctx, `SELECT name || '=' || state || '/' || coalesce("claimedBy", '') FROM "integrationStreams" ORDER BY seq`)
	require.NoError(t, err)
	for rows.Next() {
		var v string
		require.NoError(t, rows.Scan(&v))
		states = append(states, v)
	}
	assert.Equal(t, []string{"root=processing/slot-0", "s-000=processing/slot-1", "s-001=pending/", "s-002=pending/"}, states)
}

// A stream held back by its route's limit is skipped, the others are not;
// a gated run gives nothing to anyone until the gate opens.
func TestHeldStreamsAndGatedRuns(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	run, root := newRun(t, s, "test")
	addStreams(t, s, run, 1)

	st, err := s.ClaimStream(ctx, run.ID, "slot-0", true)
	require.NoError(t, err)
	require.Equal(t, root.ID, st.ID)
	require.NoError(t, s.HoldStream(ctx, st.ID, time.Hour))
	next, err := s.ClaimStream(ctx, run.ID, "slot-0", true)
	require.NoError(t, err)
	require.NotNil(t, next)
	assert.Equal(t, "s-000", next.Name, "the held stream is passed over")
	require.NoError(t, s.ResetStream(ctx, next.ID))

	require.NoError(t, s.GateRun(ctx, run.ID, time.Hour))
	none, err := s.ClaimStream(ctx, run.ID, "slot-1", true)
	require.NoError(t, err)
	assert.Nil(t, none, "a gated run gives no stream")
	h, err := s.RunHold(ctx, run.ID)
	require.NoError(t, err)
	assert.True(t, h.Gated)
	assert.InDelta(t, time.Hour.Seconds(), h.Wait.Seconds(), 5)

	// A shorter gate does not shorten a longer one.
	require.NoError(t, s.GateRun(ctx, run.ID, time.Minute))
	h, err = s.RunHold(ctx, run.ID)
	require.NoError(t, err)
	assert.InDelta(t, time.Hour.Seconds(), h.Wait.Seconds(), 5)

	require.NoError(t, s.SetRunProcessing(ctx, run.ID))
	h, err = s.RunHold(ctx, run.ID)
	require.NoError(t, err)
	assert.False(t, h.Gated)
	assert.Equal(t, root.ID, h.StreamID, "the held stream is what is left")
	open, err := s.ClaimStream(ctx, run.ID, "slot-1", true)
	require.NoError(t, err)
	require.NotNil(t, open)
	assert.Equal(t, "s-000", open.Name)
}

// The run's recordsWritten is the sum of its streams', however often it
// is tallied.
func TestTallyRunSumsTheStreams(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	run, root := newRun(t, s, "test")
	addStreams(t, s, run, 2)
	res := &integrations.StreamResult{Activities: []integrations.Activity{
		{Type: "message", SourceID: "m1", Timestamp: time.Now(), Member: integrations.Member{Username: "ann"}},
		{Type: "message", SourceID: "m2", Timestamp: time.Now(), Member: integrations.Member{Username: "bob"}},
	}}
	_, err := s.CommitStream(ctx, store.Page{Stream: root, Platform: "test", Result: res})
	require.NoError(t, err)
	for i := 0; i < 2; i++ {
		tally, err := s.TallyRun(ctx, run.ID)
		require.NoError(t, err)
		assert.Equal(t, store.RunTally{Pending: 2, Processed: 1, Records: 2}, tally)
	}
	got, err := s.GetRun(ctx, run.ID)
	require.NoError(t, err)
	assert.Equal(t, int64(2), got.RecordsWritten)
}
