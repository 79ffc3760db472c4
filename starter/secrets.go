package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/crowdflow/crowdflow/store"
)

func rotateKeyCmd(e *env) *cobra.Command {
	var batchSize int
	cmd := &cobra.Command{
		Use:   "rotate-key [--batch-size N]",
		Short: "Seal every stored token again under the current ENCRYPTION_KEY (legacy plain text included); safe to interrupt and re-run",
		Long: `Seal every stored token (integrations.token and "refreshToken") that is
not sealed under the current key (ENCRYPTION_KEY or ENCRYPTION_KEY_FILE) again
under it: values sealed under an old key (which must be listed in
ENCRYPTION_KEYS_OLD until this is done) and legacy plain text. Each batch is
one transaction: an interrupted rotation keeps its finished batches, and
running it again does the rest. Prints the number of integrations resealed on
stdout; values that open with no key of the ring are listed and left as they
are (exit 1).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if batchSize < 1 || batchSize > 10000 {
				return &exitError{code: 2, err: fmt.Errorf("--batch-size must be between 1 and 10000, not %d", batchSize)}
			}
			ctl, err := e.open(cmd.Context(), false)
			if err != nil {
				return err
			}
			if err := e.cfg.RequireKeyring("rotate-key"); err != nil {
				return &exitError{code: 2, err: err}
			}
			fmt.Fprintf(e.errOut, "sealing the stored tokens under key %s\n", e.cfg.Keyring.CurrentKeyID())
			rep, err := ctl.Store.RotateSecrets(cmd.Context(), batchSize, func(b store.RotateBatch) {
				fmt.Fprintf(e.errOut, "batch: %d resealed (up to integration %s)\n", b.Resealed, b.LastID)
			})
			fmt.Fprintln(e.out, rep.Resealed)
			if err != nil {
				return fmt.Errorf("%w (run it again to go on)", err)
			}
			if len(rep.Failed) > 0 {
				return fmt.Errorf("%d integration(s) hold tokens that no key of the ring opens (add their key to ENCRYPTION_KEYS_OLD): %s",
					len(rep.Failed), strings.Join(rep.Failed, ","))
			}
			fmt.Fprintf(e.errOut, "done: every stored token is sealed under key %s\n", e.cfg.Keyring.CurrentKeyID())
			return nil
		},
	}
	cmd.Flags().IntVar(&batchSize, "batch-size", 100, "integrations per transaction")
	return cmd
}
