package activities

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/store"
)

// maxSettingsRetries bounds how often Postprocess is recomputed because the
// settings changed under it; beyond that the activity fails and Temporal
// retries it later.
const maxSettingsRetries = 5

// saveSettings writes the settings Postprocess computed from
// rc.Integration.Settings, only if those are still the stored ones
// (compare-and-set on the settings version). A user who edited the
// settings during the run (an added organization, a changed window) keeps
// the edit: Postprocess is run again on the stored settings, which it only
// reads (with the pipeline data and the outcome, unchanged), and its
// result is written instead.
func (a *Activities) saveSettings(ctx context.Context, rc *integrations.RunContext, post integrations.Postprocessor,
	outcome integrations.RunOutcome, settings json.RawMessage) error {
	for range maxSettingsRetries {
		current, err := a.Store.GetIntegration(ctx, rc.Integration.ID)
		if err != nil {
			return err
		}
		if !bytes.Equal(current.Settings, rc.Integration.Settings) {
			fresh := *rc
			fresh.Integration.Settings = current.Settings
			rc = &fresh
			if settings, err = post.Postprocess(ctx, rc, outcome); err != nil {
				return fmt.Errorf("postprocess on the settings changed meanwhile: %w", err)
			}
			if settings == nil {
				return nil
			}
		}
		if bytes.Equal(settings, current.Settings) {
			return nil // nothing learnt: no write, no new version
		}
		err = a.Store.ReplaceSettings(ctx, rc.Integration.ID, settings, current.SettingsVersion)
		if !errors.Is(err, store.ErrSettingsChanged) {
			return err
		}
		a.logger(ctx).Info("settings changed while the run ended; postprocess again on the new ones", "integrationId", rc.Integration.ID)
	}
	return fmt.Errorf("settings changed %d times while being saved", maxSettingsRetries)
}
