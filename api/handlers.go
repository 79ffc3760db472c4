package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/crowdflow/crowdflow/control"
	"github.com/crowdflow/crowdflow/store"
)

// requestTimeout bounds the work of one request: Connect checks Temporal's
// health (up to 10 s) before it writes.
const requestTimeout = 30 * time.Second

func contextWithTimeout(r *http.Request, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), d)
}

// ConnectRequest is the body of POST /api/v1/tenants/{tenantId}/integrations.
type ConnectRequest struct {
	Platform string          `json:"platform"`
	Settings json.RawMessage `json:"settings"`
	// Token is the platform's API token; it is stored on the integration
	// and never sent back.
	Token string `json:"token"`
	// RefreshToken is stored beside the token where tokens expire; never sent back.
	RefreshToken string `json:"refreshToken"`
	// Identifier is the platform's id of what is connected (a GitHub App
	// installation id, a Twitter profile id).
	Identifier string `json:"identifier"`
}

// StartRunRequest is the body of POST /api/v1/integrations/{id}/runs; an
// empty body is a check run.
type StartRunRequest struct {
	// Onboarding reads the whole history instead of the check window.
	Onboarding bool `json:"onboarding"`
}

// Started is the answer to a started run.
type Started struct {
	IntegrationID string `json:"integrationId"`
	RunID         string `json:"runId"`
	WorkflowID    string `json:"workflowId"`
	WorkflowRunID string `json:"workflowRunId"`
	// TemporalURL is the run's workflow in Temporal Web.
	TemporalURL string `json:"temporalUrl"`
	// Existing: the connect repeated an earlier one and returns its
	// integration (200, not 201).
	Existing bool `json:"existing,omitempty"`
}

// decode reads a JSON object body into dst. Unknown fields, trailing data
// and wrong types are refused; an empty body is accepted when allowEmpty
// (dst keeps its zero value).
func decode(r *http.Request, dst any, allowEmpty bool, limit int64) *Error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return newError(http.StatusUnsupportedMediaType, CodeUnsupportedType, fmt.Sprintf("Content-Type %q is not JSON (send application/json)", ct))
		}
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(dst)
	if errors.Is(err, io.EOF) {
		if allowEmpty {
			return nil
		}
		return newError(http.StatusBadRequest, CodeBadJSON, "the request body is empty; send a JSON object")
	}
	if err == nil {
		// One value only: anything after it is a malformed request.
		var extra json.RawMessage
		if err = dec.Decode(&extra); errors.Is(err, io.EOF) {
			return nil
		}
		if err == nil {
			return newError(http.StatusBadRequest, CodeBadJSON, "the request body holds more than one JSON value")
		}
	}
	var maxErr *http.MaxBytesError
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &maxErr):
		return tooLarge(limit)
	case errors.As(err, &syntaxErr):
		return newError(http.StatusBadRequest, CodeBadJSON, fmt.Sprintf("malformed JSON at byte %d: %v", syntaxErr.Offset, syntaxErr))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return newError(http.StatusBadRequest, CodeBadJSON, "malformed JSON: the body ends too early")
	case errors.As(err, &typeErr):
		if typeErr.Field == "" {
			return newError(http.StatusBadRequest, CodeBadJSON, "the request body must be a JSON object")
		}
		return invalid(typeErr.Field, fmt.Sprintf("must be a %s, not a JSON %s", jsonKind(typeErr.Type.Kind().String()), typeErr.Value))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return invalid(name, "unknown field")
	default:
		return newError(http.StatusBadRequest, CodeBadJSON, "malformed JSON: "+err.Error())
	}
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "struct", "map":
		return "object"
	case "slice", "array":
		return "array"
	default:
		return "number"
	}
}

func (s *server) started(st control.Started) Started {
	return Started{
		IntegrationID: st.IntegrationID,
		RunID:         st.RunID,
		WorkflowID:    st.WorkflowID,
		WorkflowRunID: st.WorkflowRunID,
		TemporalURL:   s.temporalURL(st.WorkflowID, st.WorkflowRunID),
		Existing:      st.Existing,
	}
}

// noTemporal is the answer when the server has no Temporal client.
func noTemporal() *Error {
	return newError(http.StatusServiceUnavailable, CodeUnavailable, "no Temporal client: runs cannot be started")
}

// connect stores an integration and starts its onboarding: 201.
func (s *server) connect(w http.ResponseWriter, r *http.Request) {
	var req ConnectRequest
	if e := decode(r, &req, false, s.maxBody); e != nil {
		writeError(w, e)
		return
	}
	if tenant := chi.URLParam(r, "tenantId"); !canSee(r, tenant) {
		writeError(w, notFound("tenant "+tenant))
		return
	}
	if strings.TrimSpace(req.Platform) == "" {
		writeError(w, invalid("platform", "is required"))
		return
	}
	in := control.ConnectInput{
		TenantID: chi.URLParam(r, "tenantId"), Platform: req.Platform, Settings: req.Settings, Token: req.Token,
		RefreshToken: req.RefreshToken, Identifier: req.Identifier,
		// A client that retries its request with the same key gets the
		// integration the first one made, not a second one.
		IdempotencyKey: strings.TrimSpace(r.Header.Get("Idempotency-Key")),
	}
	// Validation first: bad input is a 400 whatever the state of Temporal.
	if _, err := s.ctl.ValidateConnect(in); err != nil {
		writeError(w, s.fromControl(r, err, "tenant"))
		return
	}
	if s.ctl.Temporal == nil {
		writeError(w, noTemporal())
		return
	}
	ctx, cancel := contextWithTimeout(r, requestTimeout)
	defer cancel()
	st, err := s.ctl.Connect(ctx, in)
	if err != nil {
		writeError(w, s.fromControl(r, err, "tenant"))
		return
	}
	w.Header().Set("Location", "/api/v1/integrations/"+st.IntegrationID)
	if st.Existing {
		// Connected already (same identifier or Idempotency-Key): 200 with
		// the existing integration, nothing created.
		writeJSON(w, http.StatusOK, s.started(st))
		return
	}
	writeJSON(w, http.StatusCreated, s.started(st))
}

// startRun starts a run of an integration: 202, or 409 while one runs.
func (s *server) startRun(w http.ResponseWriter, r *http.Request) {
	var req StartRunRequest
	if e := decode(r, &req, true, s.maxBody); e != nil {
		writeError(w, e)
		return
	}
	ctx, cancel := contextWithTimeout(r, requestTimeout)
	defer cancel()
	id := chi.URLParam(r, "id")
	if integ, err := s.store.GetIntegration(ctx, id); err != nil || !canSee(r, integ.TenantID) {
		writeError(w, s.fromStore(r, orNotFound(err), "integration "+id))
		return
	}
	if s.ctl.Temporal == nil {
		writeError(w, noTemporal())
		return
	}
	st, err := s.ctl.StartRun(ctx, id, req.Onboarding)
	if err != nil {
		writeError(w, s.fromControl(r, err, "integration "+id))
		return
	}
	w.Header().Set("Location", "/api/v1/runs/"+st.RunID)
	writeJSON(w, http.StatusAccepted, s.started(st))
}

// continueRun re-processes a run's pending and failed streams: 202, or 409
// while another run of the integration is in progress.
func (s *server) continueRun(w http.ResponseWriter, r *http.Request) {
	var req struct{}
	if e := decode(r, &req, true, s.maxBody); e != nil {
		writeError(w, e)
		return
	}
	ctx, cancel := contextWithTimeout(r, requestTimeout)
	defer cancel()
	id := chi.URLParam(r, "id")
	if run, err := s.store.GetRun(ctx, id); err != nil || !canSee(r, run.TenantID) {
		writeError(w, s.fromStore(r, orNotFound(err), "run "+id))
		return
	}
	if s.ctl.Temporal == nil {
		writeError(w, noTemporal())
		return
	}
	st, err := s.ctl.ContinueRun(ctx, id)
	if err != nil {
		writeError(w, s.fromControl(r, err, "run "+id))
		return
	}
	w.Header().Set("Location", "/api/v1/runs/"+st.RunID)
	writeJSON(w, http.StatusAccepted, s.started(st))
}

// orNotFound is err, or the store's not-found when there is none: a row
// the principal may not see is answered as absent.
func orNotFound(err error) error {
	if err == nil {
		return store.ErrNotFound
	}
	return err
}

// fromStore is fromControl for the store's own not-found.
func (s *server) fromStore(r *http.Request, err error, what string) *Error {
	if errors.Is(err, store.ErrNotFound) {
		return notFound(what)
	}
	return s.fromControl(r, err, what)
}

// getIntegration answers the integration with its latest run.
func (s *server) getIntegration(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := contextWithTimeout(r, requestTimeout)
	defer cancel()
	id := chi.URLParam(r, "id")
	integ, err := s.store.GetIntegration(ctx, id)
	if err != nil || !canSee(r, integ.TenantID) {
		writeError(w, s.fromStore(r, orNotFound(err), "integration "+id))
		return
	}
	view := integrationView(integ)
	run, err := s.store.LatestRun(ctx, integ.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		writeError(w, s.fromControl(r, err, "integration "+id))
		return
	default:
		rv, err := s.runView(ctx, run)
		if err != nil {
			writeError(w, s.fromControl(r, err, "integration "+id))
			return
		}
		view.LatestRun = &rv
	}
	writeJSON(w, http.StatusOK, view)
}

// getRun answers a run with its stream counts.
func (s *server) getRun(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := contextWithTimeout(r, requestTimeout)
	defer cancel()
	id := chi.URLParam(r, "id")
	run, err := s.store.GetRun(ctx, id)
	if err != nil || !canSee(r, run.TenantID) {
		writeError(w, s.fromStore(r, orNotFound(err), "run "+id))
		return
	}
	view, err := s.runView(ctx, run)
	if err != nil {
		writeError(w, s.fromControl(r, err, "run "+id))
		return
	}
	writeJSON(w, http.StatusOK, view)
}
