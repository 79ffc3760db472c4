package config

import (
	"testing"
	"time"
)

func TestActivityConcurrency(t *testing.T) {
	for _, tc := range []struct {
		env     string
		want    int
		wantErr bool
	}{
		{"", DefaultActivityConcurrency, false},
		{"8", 8, false},
		{" 64 ", 64, false},
		{"0", 0, true},
		{"-3", 0, true},
		{"many", 0, true},
	} {
		t.Setenv(EnvActivityConcurrency, tc.env)
		got, err := ActivityConcurrency()
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("%s=%q: got %d, %v; want %d, error %v", EnvActivityConcurrency, tc.env, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestRetentionMaxAge(t *testing.T) {
	for _, tc := range []struct {
		env     string
		want    time.Duration
		wantErr bool
	}{
		{"", 0, false},
		{"30d", 30 * 24 * time.Hour, false},
		{"36h", 36 * time.Hour, false},
		{"0d", 0, true},
		{"-1h", 0, true},
		{"a while", 0, true},
	} {
		t.Setenv(EnvRetentionMaxAge, tc.env)
		got, err := RetentionMaxAge()
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("%s=%q: got %s, %v; want %s, error %v", EnvRetentionMaxAge, tc.env, got, err, tc.want, tc.wantErr)
		}
	}
}
