package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/crowdflow/crowdflow/internal/auth"
	"github.com/crowdflow/crowdflow/store"
)

func apiTokenCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "api-token",
		Short: "Make, list and revoke API tokens scoped to one tenant",
	}
	var tenant, name string
	create := &cobra.Command{
		Use:   "create --tenant ID [--name TEXT]",
		Short: "Make a token that opens the API for one tenant's integrations and runs; prints it (shown once, stored hashed)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !store.ValidUUID(tenant) {
				return &exitError{code: 2, err: fmt.Errorf("--tenant must be a tenant id (a UUID), not %q", tenant)}
			}
			ctl, err := e.open(cmd.Context(), false)
			if err != nil {
				return err
			}
			token, hash, err := auth.NewToken()
			if err != nil {
				return err
			}
			id, err := ctl.Store.CreateAPIToken(cmd.Context(), tenant, name, hash)
			if err != nil {
				return err
			}
			fmt.Fprintln(e.out, token)
			fmt.Fprintf(e.errOut, "API token %s for tenant %s: shown once, only its hash is stored; revoke it with: starter api-token revoke %s\n",
				id, tenant, id)
			return nil
		},
	}
	create.Flags().StringVar(&tenant, "tenant", "", "the tenant the token opens (required)")
	create.Flags().StringVar(&name, "name", "", "a note saying what the token is for")

	revoke := &cobra.Command{
		Use:   "revoke TOKEN-ID|TOKEN",
		Short: "Revoke a tenant token (by its id, or the token itself read from stdin with -): its next request gets 401",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			arg := strings.TrimSpace(args[0])
			if arg == "-" {
				b, err := io.ReadAll(io.LimitReader(cmd.InOrStdin(), 4096))
				if err != nil {
					return err
				}
				arg = strings.TrimSpace(string(b))
			}
			byToken := strings.HasPrefix(arg, auth.TokenPrefix)
			if !byToken && !store.ValidUUID(arg) {
				return &exitError{code: 2, err: errors.New("give the token's id (a UUID, as create printed it) or - to read the token from stdin")}
			}
			ctl, err := e.open(cmd.Context(), false)
			if err != nil {
				return err
			}
			var t *store.APIToken
			if byToken {
				t, err = ctl.Store.RevokeAPITokenByHash(cmd.Context(), auth.HashToken(arg))
			} else {
				t, err = ctl.Store.RevokeAPIToken(cmd.Context(), arg)
			}
			if errors.Is(err, store.ErrNotFound) {
				return &exitError{code: 2, err: errors.New("no such API token")}
			}
			if err != nil {
				return err
			}
			fmt.Fprintln(e.out, t.ID)
			fmt.Fprintf(e.errOut, "revoked API token %s of tenant %s\n", t.ID, t.TenantID)
			return nil
		},
	}

	var listTenant string
	list := &cobra.Command{
		Use:   "list [--tenant ID]",
		Short: "List the tenant tokens: ID TENANT CREATED REVOKED NAME (never the tokens)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if listTenant != "" && !store.ValidUUID(listTenant) {
				return &exitError{code: 2, err: fmt.Errorf("--tenant must be a UUID, not %q", listTenant)}
			}
			ctl, err := e.open(cmd.Context(), false)
			if err != nil {
				return err
			}
			tokens, err := ctl.Store.ListAPITokens(cmd.Context(), listTenant)
			if err != nil {
				return err
			}
			for _, t := range tokens {
				revoked := "-"
				if t.RevokedAt != nil {
					revoked = t.RevokedAt.UTC().Format(time.RFC3339)
				}
				fmt.Fprintf(e.out, "%s\t%s\t%s\t%s\t%s\n", t.ID, t.TenantID, t.CreatedAt.UTC().Format(time.RFC3339), revoked, t.Name)
			}
			return nil
		},
	}
	list.Flags().StringVar(&listTenant, "tenant", "", "only this tenant's tokens")
	cmd.AddCommand(create, revoke, list)
	return cmd
}
