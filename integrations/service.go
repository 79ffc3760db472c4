package integrations

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"
)

// Service is what every platform implements.
type Service interface {
	// Platform is the integrations.platform value, e.g. "devto".
	Platform() string
	// Config holds the scheduling and limit settings of the platform.
	Config() Config
	// GetStreams returns the root streams of a run. It is called once per
	// run: a resumed or continued run goes on with the streams it has.
	GetStreams(ctx context.Context, run *RunContext) ([]Stream, error)
	// ProcessStream fetches one stream (one page) and returns its records.
	ProcessStream(ctx context.Context, run *RunContext, s Stream) (*StreamResult, error)
}

// Config mirrors the knobs of IntegrationServiceBase.
type Config struct {
	// Ticks between scheduled checks, one tick being a minute: negative
	// means onboarding only, 0 every minute, N every N minutes.
	Ticks int
	// GlobalLimit is the number of records a run may write per
	// LimitResetFrequency window. 0, or a zero window, disables it.
	GlobalLimit         int
	LimitResetFrequency time.Duration
	// OnboardingLimitModifierFactor multiplies GlobalLimit for onboarding
	// runs. 0 means 1.
	OnboardingLimitModifierFactor float64
	// ParallelStreams is how many streams of one run may be processed at
	// once. 0 means 1. PARALLEL_STREAMS_<PLATFORM> (e.g.
	// PARALLEL_STREAMS_TWITTER_REACH), else PARALLEL_STREAMS, overrides it
	// (see StreamsInFlight).
	ParallelStreams int
}

// StreamsInFlight is how many streams of a run of platform may be in
// flight at once: the environment's override, else the service's
// ParallelStreams, at least 1. An override that is not a positive integer
// is ignored.
func (c Config) StreamsInFlight(platform string) int {
	env := "PARALLEL_STREAMS_" + strings.ToUpper(strings.ReplaceAll(platform, "-", "_"))
	for _, name := range []string{env, "PARALLEL_STREAMS"} {
		if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
			return n
		}
	}
	return max(c.ParallelStreams, 1)
}

// EffectiveLimit is the global limit that applies to a run, 0 when none does.
func (c Config) EffectiveLimit(onboarding bool) int {
	if c.GlobalLimit <= 0 || c.LimitResetFrequency <= 0 {
		return 0
	}
	if !onboarding || c.OnboardingLimitModifierFactor <= 0 {
		return c.GlobalLimit
	}
	n := int(float64(c.GlobalLimit) * c.OnboardingLimitModifierFactor)
	if n < 1 {
		n = 1
	}
	return n
}

// Integration is the stored integration as a service sees it.
type Integration struct {
	ID           string
	TenantID     string
	Platform     string
	Identifier   string
	Settings     json.RawMessage
	Token        string
	RefreshToken string
}

// RunContext is what a service knows about the run it works for.
type RunContext struct {
	RunID      string
	Onboarding bool
	// StartedAt is when the run started; check windows count back from it.
	StartedAt   time.Time
	Integration Integration
	// PipelineData is what Preprocess returned. It is stored on the run row,
	// so it survives delays, worker restarts and continue-as-new.
	PipelineData json.RawMessage
	Logger       *slog.Logger
	// Tokens reads and refreshes the integration's OAuth tokens, and
	// Records answers questions about stored records; the engine sets
	// both (tests may leave them nil for services that need neither).
	Tokens  TokenStore
	Records RecordStore
}

// Stream is one unit of work: a channel, an article, a page of results.
type Stream struct {
	// ID is set by the engine for stored streams; services leave it empty.
	ID string
	// Name is the stream kind or value (integrationStreams.name).
	Name string
	// Metadata is everything the stream needs to be fetched again later:
	// a stream may be processed by another worker, days after it was made.
	Metadata json.RawMessage
}

// NewStream builds a stream whose metadata is v encoded as JSON.
func NewStream(name string, v any) Stream {
	if v == nil {
		return Stream{Name: name, Metadata: json.RawMessage(`{}`)}
	}
	b, err := json.Marshal(v)
	if err != nil {
		// Metadata types are the services' own plain structs; failing to
		// encode one is a programming error, not a runtime condition.
		panic("integrations: stream metadata: " + err.Error())
	}
	return Stream{Name: name, Metadata: b}
}

// DecodeMetadata decodes the stream's metadata into v.
func (s Stream) DecodeMetadata(v any) error {
	if len(s.Metadata) == 0 {
		return nil
	}
	return json.Unmarshal(s.Metadata, v)
}

// StreamResult is IProcessStreamResults.
type StreamResult struct {
	// Activities to upsert, each with the member who did it.
	Activities []Activity
	// Members to upsert that have no activity on this page.
	Members []Member
	// LastRecord and LastRecordTimestamp describe the oldest record of the
	// page; FinishChecker uses them to stop a check run early.
	LastRecord          any
	LastRecordTimestamp time.Time
	// NewStreams are queued behind the run's pending streams (FIFO).
	NewStreams []Stream
	// NextPage is the next page of this stream, if any.
	NextPage *Stream
	// Sleep pauses the whole run after this stream's records are stored,
	// e.g. because the API says the remaining quota is used up.
	Sleep time.Duration
	// Skipped says the stream could not be read and was passed over on
	// purpose (the bot was removed from the channel, the channel is gone),
	// and why. The run goes on; the reason is recorded on the stream's row,
	// and Postprocess counts the stream among RunOutcome.Unfinished.
	Skipped string
}

// RecordCount is what the global limit counts.
func (r *StreamResult) RecordCount() int {
	if r == nil {
		return 0
	}
	return len(r.Activities) + len(r.Members)
}

// Preprocessor runs before the streams of a run are fetched. What it returns
// is given to every later step as RunContext.PipelineData.
type Preprocessor interface {
	Preprocess(ctx context.Context, run *RunContext) (json.RawMessage, error)
}

// MemberAttributeProvider lists the member attributes the platform fills.
// They are created once per tenant and platform.
type MemberAttributeProvider interface {
	MemberAttributes() []MemberAttribute
}

// FinishChecker is consulted in check runs only, when a stream returned a
// next page: true drops the next page (the data is older than the check
// window). res carries the page's LastRecord and LastRecordTimestamp.
type FinishChecker interface {
	IsProcessingFinished(run *RunContext, s Stream, res *StreamResult) bool
}

// Postprocessor runs at the end of a run. The settings it returns replace
// the integration's settings.
type Postprocessor interface {
	Postprocess(ctx context.Context, run *RunContext, outcome RunOutcome) (settings json.RawMessage, err error)
}

// RunOutcome tells Postprocess how the run's streams ended.
type RunOutcome struct {
	// Unfinished are the streams that were not processed (they failed,
	// never ran, or were skipped), so that change cursors can be left to
	// retry next time.
	Unfinished []Stream
}

// SettingsValidator checks the settings a user gives when connecting an
// integration and returns them normalised. Errors should be *FieldError.
type SettingsValidator interface {
	ValidateSettings(settings json.RawMessage) (json.RawMessage, error)
}

// MemberAttribute is a memberAttributeSettings row.
type MemberAttribute struct {
	Name      string
	Label     string
	Type      string // boolean, number, email, string, url, date
	Show      bool
	CanDelete bool
}

// Member is a person on one platform.
type Member struct {
	// Username is the identity on this platform: unique per tenant and
	// platform (memberIdentities).
	Username string
	// SourceID is the platform's own id of the user, when it has one.
	SourceID    string
	DisplayName string
	Emails      []string
	// JoinedAt is when the member joined the community, zero when unknown.
	JoinedAt time.Time
	// Attributes maps an attribute name to its value on this platform.
	Attributes map[string]any
	// Reach is the member's follower count on this platform, nil when
	// unknown; it becomes members.reach[platform], total recomputed.
	Reach *int
	// Organizations the member belongs to (a GitHub profile's company):
	// found by name among the tenant's organizations, created when new,
	// and linked in "memberOrganizations".
	Organizations []Organization
}

// Organization is a company or community a member belongs to.
type Organization struct {
	Name string
	URL  string
}

// Activity is something a member did on the platform.
type Activity struct {
	Type string
	// SourceID is stable across runs: it comes from platform ids, never
	// from the time of the run. (tenant, platform, type, sourceId) is unique.
	SourceID       string
	SourceParentID string
	Timestamp      time.Time
	Member         Member
	Channel        string
	Title          string
	Body           string
	URL            string
	Attributes     map[string]any
	Score          int
	IsContribution bool
}
