// Command starter starts and drives integration runs: it applies the
// schema, connects integrations, starts and continues runs, and waits for
// them. Results a script may read (an id) go to stdout, one per line;
// everything else goes to stderr.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// exitError carries a process exit code.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRoot().ExecuteContext(ctx)
	stop()
	if err == nil {
		return
	}
	code := 1
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
		err = ee.err
	}
	if err != nil {
		// One line: drivers' messages may span several.
		fmt.Fprintln(os.Stderr, "starter:", strings.Join(strings.Fields(err.Error()), " "))
	}
	os.Exit(code)
}
