package discord_test

import (
	"testing"

	"github.com/crowdflow/crowdflow/internal/apicontract"
)

// checkContract validates every exchange a test's fake served against the
// API owner's description, discord.trimmed.json. newEnv calls it when each
// test ends, so every response the service tests provoke is checked.
//
// Relaxations, each for a known defect (testdata/apispecs/README.md) or a status the
// spec does not describe:
func checkContract(t *testing.T, ex []apicontract.Exchange) {
	t.Helper()
	if len(ex) == 0 {
		return // the test made no call (e.g. it failed before any)
	}
	spec := apicontract.LoadSpec(t, "discord.trimmed.json",
		// discordgo builds /api/v9 paths; the spec's server is /api/v10.
		// The fake serves both and the service may call either.
		apicontract.StripPrefix("/api/v9"),
		apicontract.PatchSpec(
			"429: RatelimitedResponse requires code (through Error); Discord's docs show it optional and the API sends "+
				`{"message", "retry_after", "global"} without it`,
			func(doc map[string]any) {
				rl := apicontract.Lookup(doc, "components", "schemas", "RatelimitedResponse")
				all := rl["allOf"].([]any)
				all[0] = map[string]any{
					"type": "object",
					"properties": map[string]any{
						"code":    map[string]any{"type": "integer"},
						"message": map[string]any{"type": "string"},
					},
					"required": []any{"message"},
				}
			}),
		apicontract.PatchSpec(
			"GET /guilds/{guild_id}/threads/active: the shared ThreadsResponse requires has_more, which the active listing "+
				"does not have (per the docs and every client library); the archived listing keeps the requirement",
			func(doc map[string]any) {
				schemas := apicontract.Lookup(doc, "components", "schemas")
				tr := apicontract.Lookup(schemas, "ThreadsResponse")
				active := map[string]any{}
				for k, v := range tr {
					active[k] = v
				}
				active["required"] = []any{"threads", "members"}
				schemas["ActiveThreadsResponse"] = active
				media := apicontract.Lookup(doc, "paths", "/guilds/{guild_id}/threads/active", "get", "responses", "200", "content", "application/json")
				media["schema"] = map[string]any{"$ref": "#/components/schemas/ActiveThreadsResponse"}
			}),
		apicontract.PatchSpec(
			"4xx: InnerErrors lists Error objects, whose code is an integer; the field errors of an Invalid Form Body (50035) "+
				`carry string codes, e.g. {"code": "BASE_TYPE_REQUIRED", "message": "This field is required"} in Discord's docs. `+
				"Not in testdata/apispecs/README.md; only the fake's own tests provoke a 400",
			func(doc map[string]any) {
				inner := apicontract.Lookup(doc, "components", "schemas", "InnerErrors", "properties", "_errors")
				inner["items"] = map[string]any{
					"type": "object",
					"properties": map[string]any{
						"code":    map[string]any{"type": []any{"string", "integer"}},
						"message": map[string]any{"type": "string"},
					},
					"required": []any{"code", "message"},
				}
			}),
		apicontract.PatchSpec(
			"ChannelTypes stops at 15 and GuildChannelResponse lists no 16: Discord's docs (Channel Types) list GUILD_MEDIA = 16, "+
				"a channel that holds posts (threads) only, as a forum does; a guild with one lists it in its channels",
			func(doc map[string]any) {
				schemas := apicontract.Lookup(doc, "components", "schemas")
				ct := apicontract.Lookup(schemas, "ChannelTypes")
				ct["oneOf"] = append(ct["oneOf"].([]any), map[string]any{"title": "GUILD_MEDIA", "const": 16})
				typ := apicontract.Lookup(schemas, "GuildChannelResponse", "properties", "type")
				typ["enum"] = append(typ["enum"].([]any), 16)
			}),
		apicontract.PatchSpec(
			"GuildMemberResponse.joined_at is a required string, but Discord's docs (Guild Member Object) type it "+
				"?ISO8601 timestamp: null for a guest member, who has no join time",
			func(doc map[string]any) {
				ja := apicontract.Lookup(doc, "components", "schemas", "GuildMemberResponse", "properties", "joined_at")
				ja["type"] = []any{"string", "null"}
			}),
		apicontract.SkipStatus(500, "the spec describes no 5xx answer; the fake's 500s are failures injected with FailNext"),
	)
	spec.Check(t, ex)
}
