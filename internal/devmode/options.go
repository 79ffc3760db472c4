package devmode

import (
	"flag"
	"io"
	"log/slog"
	"os"
)

// Default ports: Temporal's own dev-server ports for the server and its
// UI, the next one for the fake APIs.
const (
	DefaultTemporalPort = 7233
	DefaultUIPort       = 8233
	DefaultAPIPort      = 8234
	DefaultWebPort      = 8235
	DefaultDataDir      = ".data"
)

// Options configure the dev mode. Ports are on 127.0.0.1; 0 picks a free
// one (the tests do).
type Options struct {
	// DataDir keeps the state between starts: the Temporal server's
	// SQLite file and the PostgreSQL cluster.
	DataDir      string
	TemporalPort int
	UIPort       int
	// APIPort serves the fake platform APIs of the demo.
	APIPort int
	// WebPort serves crowdflow's HTTP API and its web UI (/ui), signed in
	// as the operator by the link the summary prints.
	WebPort int
	// Demo serves the fake APIs, points the built-in services at them and
	// connects a demo tenant's integrations. Off, the services use their
	// real APIs (or DEVTO_API_URL, SLACK_API_URL, ...), as in production.
	Demo bool
	// TemporalLogLevel is the lowest level of the Temporal server's own
	// messages that are logged.
	TemporalLogLevel slog.Level
	// Out receives the "where to look" summary; default os.Stderr.
	Out io.Writer
}

// DefaultOptions are the options of a plain `worker --dev`.
func DefaultOptions() Options {
	return Options{
		DataDir:          DefaultDataDir,
		TemporalPort:     DefaultTemporalPort,
		UIPort:           DefaultUIPort,
		APIPort:          DefaultAPIPort,
		WebPort:          DefaultWebPort,
		Demo:             true,
		TemporalLogLevel: slog.LevelError,
	}
}

// RegisterFlags adds the dev mode's flags to fs, with defaults from o; the
// flags write into o when fs is parsed.
func (o *Options) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.DataDir, "data-dir", o.DataDir, "with --dev: folder kept between starts (Temporal's SQLite file, the PostgreSQL cluster)")
	fs.IntVar(&o.TemporalPort, "temporal-port", o.TemporalPort, "with --dev: gRPC port of the embedded Temporal server (0: a free port)")
	fs.IntVar(&o.UIPort, "ui-port", o.UIPort, "with --dev: port of Temporal Web (0: a free port)")
	fs.IntVar(&o.APIPort, "api-port", o.APIPort, "with --dev: port of the demo's fake platform APIs (0: a free port)")
	fs.IntVar(&o.WebPort, "web-port", o.WebPort, "with --dev: port of the HTTP API and its web UI (0: a free port)")
	fs.BoolVar(&o.Demo, "demo", o.Demo, "with --dev: serve fake platform APIs and connect a demo tenant to them; "+
		"--demo=false uses the real APIs (or DEVTO_API_URL, ...)")
}

func (o Options) out() io.Writer {
	if o.Out != nil {
		return o.Out
	}
	return os.Stderr
}
