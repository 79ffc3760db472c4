package main

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"

	"github.com/crowdflow/crowdflow/control"
	"github.com/crowdflow/crowdflow/integrations/registry"
)

// schedulesCmd manages the Temporal schedules that start the checks
// (integration-check/<platform>). It needs Temporal only, not the database.
func schedulesCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "schedules",
		Short: "Manage the check schedules integration-check/<platform> (they replace the one-minute tick)",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "sync",
		Short: "Make the schedules match the registry (the worker does this at start too); prints one line per schedule",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withTemporal(cmd.Context(), e, func(ctx context.Context, tc client.Client) error {
				rep, err := control.SyncSchedules(ctx, tc, registry.Default(), e.cfg.TaskQueue)
				w := tabwriter.NewWriter(e.out, 0, 4, 2, ' ', 0)
				for _, c := range rep.Changes {
					interval := "-"
					if c.Action != control.ScheduleDeleted {
						interval = "every " + formatInterval(c.Interval)
					}
					fmt.Fprintf(w, "%s\t%s\t%s\n", c.Action, c.ID, interval)
				}
				if ferr := w.Flush(); ferr != nil {
					return ferr
				}
				return err
			})
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "list",
		Short: "Show the schedules: id, interval, paused, next run, last run",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withTemporal(cmd.Context(), e, func(ctx context.Context, tc client.Client) error {
				list, err := control.ListSchedules(ctx, tc, registry.Default())
				if err != nil {
					return err
				}
				w := tabwriter.NewWriter(e.out, 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "ID\tINTERVAL\tPAUSED\tNEXT RUN\tLAST RUN")
				for _, s := range list {
					paused := "no"
					if s.Paused {
						paused = "yes"
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", s.ID, formatInterval(s.Interval), paused, formatTime(s.NextRun), formatTime(s.LastRun))
				}
				return w.Flush()
			})
		},
	})
	return cmd
}

// withTemporal dials Temporal for one command and closes it after.
func withTemporal(ctx context.Context, e *env, f func(context.Context, client.Client) error) error {
	// With TEMPORAL_PAYLOAD_ENCRYPTION=on the schedules' arguments are
	// sealed: the client needs the key ring.
	if e.cfg.Keyring == nil {
		if err := e.cfg.LoadKeyring(); err != nil {
			return &exitError{code: 2, err: err}
		}
	}
	tc, err := e.cfg.DialTemporal(ctx, e.logger)
	if err != nil {
		return err
	}
	defer tc.Close()
	return f(ctx, tc)
}

// formatInterval writes whole minutes and hours without trailing zeros:
// 1m, 20m, 24h, 1h30m.
func formatInterval(d time.Duration) string {
	switch {
	case d <= 0:
		return "-"
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0 && d > time.Hour:
		return fmt.Sprintf("%dh%dm", d/time.Hour, (d%time.Hour)/time.Minute)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	default:
		return d.String()
	}
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}
