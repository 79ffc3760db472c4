package devmode

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"

	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/log/tag"
)

// serverLogger writes the Temporal server's messages to the process's
// slog logger, dropping those below a level. Loggers made by With share
// the level, so that Stop can silence them all.
type serverLogger struct {
	l     *slog.Logger
	level *atomic.Int64
}

var (
	_ log.Logger     = serverLogger{}
	_ log.WithLogger = serverLogger{}
)

// silent is above every level: nothing is logged.
const silent = slog.Level(1 << 20)

func newServerLogger(l *slog.Logger, min slog.Level) serverLogger {
	s := serverLogger{l: l, level: new(atomic.Int64)}
	s.level.Store(int64(min))
	return s
}

// silence drops every message from now on: a server that stops logs
// the failures of its services that are already gone.
func (s serverLogger) silence() { s.level.Store(int64(silent)) }

// transient are the errors of a one-node cluster whose services are still
// joining (or leaving) the membership ring; calls are retried until they
// have. Below the warning level they are logged like the others.
var transient = []string{
	"Not enough hosts to serve the request",
	"Frontend is not healthy yet",
	"ringpop is not bootstrapped",
}

func attrs(tags []tag.Tag) []any {
	out := make([]any, 0, 2*len(tags))
	for _, t := range tags {
		out = append(out, t.Key(), t.Value())
	}
	return out
}

func (s serverLogger) log(level slog.Level, msg string, tags []tag.Tag) {
	min := slog.Level(s.level.Load())
	if level < min {
		return
	}
	if min > slog.LevelWarn {
		for _, t := range tags {
			if v := fmt.Sprint(t.Value()); t.Key() == "error" && containsAny(v, transient) {
				return
			}
		}
	}
	s.l.Log(context.Background(), level, msg, attrs(tags)...)
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func (s serverLogger) Debug(msg string, tags ...tag.Tag) { s.log(slog.LevelDebug, msg, tags) }
func (s serverLogger) Info(msg string, tags ...tag.Tag)  { s.log(slog.LevelInfo, msg, tags) }
func (s serverLogger) Warn(msg string, tags ...tag.Tag)  { s.log(slog.LevelWarn, msg, tags) }
func (s serverLogger) Error(msg string, tags ...tag.Tag) { s.log(slog.LevelError, msg, tags) }

// DPanic is an error that panics in the server's development builds only.
func (s serverLogger) DPanic(msg string, tags ...tag.Tag) { s.log(slog.LevelError, msg, tags) }

func (s serverLogger) Panic(msg string, tags ...tag.Tag) {
	s.l.Error(msg, attrs(tags)...)
	panic(msg)
}

func (s serverLogger) Fatal(msg string, tags ...tag.Tag) {
	s.l.Error(msg, attrs(tags)...)
	os.Exit(1)
}

func (s serverLogger) With(tags ...tag.Tag) log.Logger {
	return serverLogger{l: s.l.With(attrs(tags)...), level: s.level}
}
