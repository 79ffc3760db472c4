package store_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crowdflow/crowdflow/internal/quota"
)

// Many callers at once on one budget of 10: exactly 10 are booked, never
// 11, whoever they are.
func TestQuotaReserveNeverOverspends(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	now := time.Now()
	key := "test|api|h|"
	if err := s.Observe(ctx, quota.Observation{Key: key, Limit: 10, Remaining: 10, Reset: now.Add(time.Hour)}, now); err != nil {
		t.Fatal(err)
	}
	var booked atomic.Int32
	var wg sync.WaitGroup
	seqs := make(chan int64, 60)
	for range 60 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, err := s.Reserve(ctx, []quota.Ask{{Key: key, Cost: 1}}, now, 0)
			if err != nil {
				t.Error(err)
				return
			}
			if b.Booked {
				booked.Add(1)
				seqs <- b.Seqs[0]
			} else if !b.At.Equal(now.Add(time.Hour).Truncate(time.Microsecond)) {
				t.Errorf("not booked: ask again at %v, want the reset", b.At)
			}
		}()
	}
	wg.Wait()
	close(seqs)
	if n := booked.Load(); n != 10 {
		t.Fatalf("booked %d of a budget of 10", n)
	}
	seen := map[int64]bool{}
	for q := range seqs {
		if seen[q] {
			t.Fatalf("sequence %d booked twice", q)
		}
		seen[q] = true
	}
}

// The ledger's rules, one step after another on one key.
func TestQuotaLedgerRules(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	t0 := time.Now().Truncate(time.Second)
	reserve := func(key string, at time.Time, wait time.Duration) quota.Booking {
		t.Helper()
		b, err := s.Reserve(ctx, []quota.Ask{{Key: key, Cost: 1}}, at, wait)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	observe := func(o quota.Observation, at time.Time) {
		t.Helper()
		if err := s.Observe(ctx, o, at); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("answers in flight count against the server's remaining", func(t *testing.T) {
		k := "rules|a"
		b1 := reserve(k, t0, 0)
		// A budget never heard of: the first call is a probe, the others
		// wait for its answer.
		if b := reserve(k, t0, 0); b.Booked || !b.At.After(t0) {
			t.Fatalf("booked during the probe: %+v", b)
		}
		observe(quota.Observation{Key: k, Seq: b1.Seqs[0], Limit: 10, Remaining: 9, Reset: t0.Add(time.Second)}, t0.Add(5*time.Millisecond))
		var b2 quota.Booking
		for i := range 4 {
			b := reserve(k, t0.Add(10*time.Millisecond), 0)
			if !b.Booked {
				t.Fatalf("call %d not booked", i)
			}
			if i == 0 {
				b2 = b
			}
		}
		// The second call's answer: 5 left after it (another client spent
		// some), and three more were booked since: 2 are.
		observe(quota.Observation{Key: k, Seq: b2.Seqs[0], Limit: 10, Remaining: 5, Reset: t0.Add(time.Second)}, t0.Add(15*time.Millisecond))
		for i := range 2 {
			if !reserve(k, t0.Add(20*time.Millisecond), 0).Booked {
				t.Fatalf("call %d not booked", i)
			}
		}
		b := reserve(k, t0.Add(20*time.Millisecond), 0)
		if b.Booked || !b.At.Equal(t0.Add(time.Second)) {
			t.Fatalf("got %+v, want to wait for the reset", b)
		}
		// Waited up to the reset, it is booked there.
		if b := reserve(k, t0.Add(20*time.Millisecond), 2*time.Second); b.Booked {
			t.Fatalf("a window's end is not booked ahead: %+v", b)
		}
		// After the reset: the limit less what is in flight (5 unanswered).
		n := 0
		for reserve(k, t0.Add(1100*time.Millisecond), 0).Booked {
			n++
		}
		if n != 5 {
			t.Fatalf("booked %d in the new window, want 10 - 5 in flight", n)
		}
	})

	t.Run("a 429 blocks everyone until its end", func(t *testing.T) {
		k := "rules|b"
		b := reserve(k, t0, 0)
		observe(quota.Observation{Key: k, Seq: b.Seqs[0], Limit: -1, Remaining: -1, Refused: true, Until: t0.Add(2 * time.Second)}, t0)
		got := reserve(k, t0.Add(time.Second), 0)
		if got.Booked || !got.At.Equal(t0.Add(2*time.Second)) || got.Waited != k {
			t.Fatalf("got %+v, want a wait until the 429's end", got)
		}
		if !reserve(k, t0.Add(2*time.Second), 0).Booked {
			t.Fatal("not booked at the 429's end")
		}
	})

	t.Run("without headers the pace is learned from what was granted before a 429", func(t *testing.T) {
		k := "rules|c"
		first := reserve(k, t0, 0)
		// The probe's answer says nothing of the budget.
		observe(quota.Observation{Key: k, Seq: first.Seqs[0], Limit: -1, Remaining: -1}, t0.Add(time.Millisecond))
		var last quota.Booking
		for range 20 {
			last = reserve(k, t0.Add(time.Millisecond), 0)
		}
		// 20 were granted, the 21st refused: 20 in (at least) a second.
		observe(quota.Observation{Key: k, Seq: last.Seqs[0], Limit: -1, Remaining: -1, Refused: true, Until: t0.Add(time.Second)}, t0.Add(250*time.Millisecond))
		// The refusals of the same burst only block.
		observe(quota.Observation{Key: k, Seq: last.Seqs[0] - 1, Limit: -1, Remaining: -1, Refused: true, Until: t0.Add(time.Second)}, t0.Add(260*time.Millisecond))
		var at []time.Time
		for range 5 {
			b := reserve(k, t0.Add(time.Second), time.Second)
			if !b.Booked {
				t.Fatalf("not booked: %+v", b)
			}
			at = append(at, b.At)
		}
		want := time.Duration(float64(50*time.Millisecond) * (1 + quota.LearnMargin))
		for i := 1; i < len(at); i++ {
			if d := at[i].Sub(at[i-1]); d < want-time.Millisecond || d > want+time.Millisecond {
				t.Fatalf("slots %v apart, want %v (20 a second, less the margin)", d, want)
			}
		}
		// A slot further than the wait allowed is not booked.
		if b := reserve(k, t0.Add(time.Second), 0); b.Booked {
			t.Fatalf("booked a slot beyond the wait: %+v", b)
		}
	})

	t.Run("a platform pace spaces the calls", func(t *testing.T) {
		k := "rules|d"
		var prev time.Time
		for i := range 4 {
			b, err := s.Reserve(ctx, []quota.Ask{{Key: k, Cost: 1, Interval: 100 * time.Millisecond}}, t0, time.Second)
			if err != nil || !b.Booked {
				t.Fatal(b, err)
			}
			if i > 0 && b.At.Sub(prev) != 100*time.Millisecond {
				t.Fatalf("call %d at %v after the previous", i, b.At.Sub(prev))
			}
			prev = b.At
		}
	})

	t.Run("all or none over several keys", func(t *testing.T) {
		route, global := "rules|e|route", "rules|e|global"
		observe(quota.Observation{Key: route, Limit: 1, Remaining: 0, Reset: t0.Add(time.Minute)}, t0)
		b, err := s.Reserve(ctx, []quota.Ask{{Key: route, Cost: 1}, {Key: global, Cost: 1}}, t0, 0)
		if err != nil || b.Booked || b.Waited != route {
			t.Fatalf("got %+v, %v: want no booking, waiting on the route", b, err)
		}
		if got := reserve(global, t0, 0); !got.Booked || got.Seqs[0] != 1 {
			t.Fatalf("the global key was booked by a refused call: %+v", got)
		}
	})
}
