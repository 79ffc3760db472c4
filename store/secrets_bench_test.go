package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crowdflow/crowdflow/internal/secrets"
	"github.com/crowdflow/crowdflow/store"
)

// BenchmarkRotateSecrets measures `starter rotate-key`: every integration's
// token and refresh token opened under the old key and sealed under the new
// one, 100 integrations per transaction. Each iteration rotates all of
// them (the keys swap roles between iterations).
//
//	go test ./store -run '^$' -bench RotateSecrets -benchtime 3x
func BenchmarkRotateSecrets(b *testing.B) {
	const n = 2000
	ctx := context.Background()
	s, err := store.Open(ctx, pgtestDatabase(b))
	require.NoError(b, err)
	defer s.Close()
	rawA, rawB := make([]byte, secrets.KeySize), make([]byte, secrets.KeySize)
	copy(rawA, []byte("0123456789abcdef0123456789abcdef"))
	copy(rawB, []byte("fedcba9876543210fedcba9876543210"))
	ringA, err := secrets.NewKeyring(rawA, rawB)
	require.NoError(b, err)
	ringB, err := secrets.NewKeyring(rawB, rawA)
	require.NoError(b, err)
	s.SetKeyring(ringA)
	for i := 0; i < n; i++ {
		_, err := s.CreateIntegration(ctx, store.NewIntegration{TenantID: "7c0a1f7e-0000-4000-8000-000000000001", Platform: "bench",
			Status: store.StatusDone, Token: fmt.Sprintf("xoxb-token-%d", i), RefreshToken: fmt.Sprintf("refresh-%d", i)})
		require.NoError(b, err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ring := ringB
		if i%2 == 1 {
			ring = ringA
		}
		s.SetKeyring(ring)
		rep, err := s.RotateSecrets(ctx, 100, nil)
		require.NoError(b, err)
		require.Equal(b, n, rep.Resealed)
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "integrations/s")
}
