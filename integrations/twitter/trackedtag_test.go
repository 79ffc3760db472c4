package twitter

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/crowdflow/crowdflow/integrations"
)

// A post found by several hashtag searches gets the same hashtag
// attribute from each: the first tracked tag it carries, in the settings'
// order and whatever the case, so streams in flight write one record.
func TestTrackedTagIsTheSameFromEveryStream(t *testing.T) {
	rc := &integrations.RunContext{Integration: integrations.Integration{Settings: json.RawMessage(`{"hashtags": ["crowdflowdemo", "Go"]}`)}}
	post := func(tags ...string) apiTweet {
		var list []any
		for _, tag := range tags {
			list = append(list, map[string]any{"tag": tag})
		}
		return apiTweet{Entities: map[string]any{"hashtags": list}}
	}
	for _, tc := range []struct {
		name   string
		post   apiTweet
		stream string
		want   string
	}{
		{name: "both tracked, from the first's stream", post: post("CrowdflowDemo", "go"), stream: "crowdflowdemo", want: "crowdflowdemo"},
		{name: "both tracked, from the second's stream", post: post("CrowdflowDemo", "go"), stream: "Go", want: "crowdflowdemo"},
		{name: "one tracked", post: post("go", "golang"), stream: "Go", want: "Go"},
		{name: "no entities: the stream's", post: apiTweet{}, stream: "Go", want: "Go"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, trackedTag(trackedHashtags(rc, tc.stream), tc.post, tc.stream))
		})
	}
}
