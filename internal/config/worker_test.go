package config

import "testing"

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
