package slack

import (
	"context"
	"fmt"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/crowdflow/crowdflow/integrations"
)

// Stream metadata. Each holds all a stream needs to be fetched again,
// days later, by any worker: the pipeline data is only a convenience.

type membersMeta struct {
	Cursor string `json:"cursor,omitempty"`
}

type channelMeta struct {
	ChannelID   string `json:"channelId"`
	ChannelName string `json:"channelName"`
	General     bool   `json:"general,omitempty"`
	New         bool   `json:"new"`
	TeamURL     string `json:"teamUrl"`
	Cursor      string `json:"cursor,omitempty"`
}

type threadMeta struct {
	ChannelID   string `json:"channelId"`
	ChannelName string `json:"channelName"`
	ThreadTS    string `json:"threadTs"`
	// ParentText is the parent's text as the channel stream rendered it,
	// for the replies' thread attribute (crowd.dev's placeholder).
	ParentText string `json:"parentText,omitempty"`
	New        bool   `json:"new"`
	TeamURL    string `json:"teamUrl"`
	Cursor     string `json:"cursor,omitempty"`
}

type channelMembersMeta struct {
	ChannelID   string `json:"channelId"`
	ChannelName string `json:"channelName"`
	Cursor      string `json:"cursor,omitempty"`
}

// epoch is the time of a join known only from conversations.members.
var epoch = time.Unix(0, 0).UTC()

// GetStreams returns the members stream (onboarding runs only) and one
// channel stream per channel of the pipeline data.
func (s *Service) GetStreams(_ context.Context, run *integrations.RunContext) ([]integrations.Stream, error) {
	pd, err := readPipeline(run)
	if err != nil {
		return nil, err
	}
	out := make([]integrations.Stream, 0, len(pd.Channels)+1)
	if run.Onboarding {
		out = append(out, integrations.NewStream(StreamMembers, membersMeta{}))
	}
	for _, c := range pd.Channels {
		out = append(out, integrations.NewStream(StreamChannel, channelMeta{
			ChannelID: c.ID, ChannelName: c.Name, General: c.General, New: c.New, TeamURL: pd.TeamURL,
		}))
	}
	return out, nil
}

// ProcessStream fetches one page of a stream.
func (s *Service) ProcessStream(ctx context.Context, run *integrations.RunContext, st integrations.Stream) (*integrations.StreamResult, error) {
	api, err := s.client(run)
	if err != nil {
		return nil, err
	}
	switch st.Name {
	case StreamMembers:
		var md membersMeta
		if err := st.DecodeMetadata(&md); err != nil {
			return nil, badMetadata(st, err)
		}
		return s.processMembers(ctx, run, api, md)
	case StreamChannel:
		var md channelMeta
		if err := st.DecodeMetadata(&md); err != nil || md.ChannelID == "" {
			return nil, badMetadata(st, err)
		}
		return s.processChannel(ctx, run, api, md)
	case StreamThread:
		var md threadMeta
		if err := st.DecodeMetadata(&md); err != nil || md.ChannelID == "" || md.ThreadTS == "" {
			return nil, badMetadata(st, err)
		}
		return s.processThread(ctx, run, api, md)
	case StreamChannelMembers:
		var md channelMembersMeta
		if err := st.DecodeMetadata(&md); err != nil || md.ChannelID == "" {
			return nil, badMetadata(st, err)
		}
		return s.processChannelMembers(ctx, run, api, md)
	}
	return nil, integrations.Permanent(fmt.Errorf("slack: unknown stream %q", st.Name))
}

func badMetadata(st integrations.Stream, err error) error {
	if err == nil {
		err = fmt.Errorf("a required field is empty")
	}
	return integrations.Permanent(fmt.Errorf("slack: %s stream: bad metadata: %w", st.Name, err))
}

// IsProcessingFinished stops a check run's paging of a channel or thread
// the previous run already knew, once the page reached messages older
// than the check window (res.LastRecordTimestamp is the page's oldest
// message); a known channel's history is paged further, to the thread
// window, for the threads that got replies since (see threadWindowStart).
// New channels and their threads are read to the end.
func (s *Service) IsProcessingFinished(run *integrations.RunContext, st integrations.Stream, res *integrations.StreamResult) bool {
	if run.Onboarding || res == nil || res.LastRecordTimestamp.IsZero() {
		return false
	}
	if st.Name != StreamChannel && st.Name != StreamThread {
		return false
	}
	var md struct {
		New bool `json:"new"`
	}
	if err := st.DecodeMetadata(&md); err != nil || md.New {
		return false
	}
	if st.Name == StreamChannel {
		return res.LastRecordTimestamp.Before(threadWindowStart(run))
	}
	return res.LastRecordTimestamp.Before(windowStart(run))
}

// skipChannel is the answer to a channel that cannot be read any more
// (the bot was removed, the channel deleted, the thread's parent deleted
// since the run listed it): an empty page, and a warning in the worker's
// log. The run goes on with the other channels, and the next run's
// Preprocess no longer lists the channel.
func skipChannel(run *integrations.RunContext, stream, channelID, name, code string) *integrations.StreamResult {
	logger(run).Warn("slack: channel skipped", "platform", Platform, "stream", stream,
		"channelId", channelID, "channel", name, "reason", code)
	return &integrations.StreamResult{Skipped: fmt.Sprintf("channel %s (%s): %s", name, channelID, code)}
}

func (s *Service) processMembers(ctx context.Context, run *integrations.RunContext, api *slackapi.Client, md membersMeta) (*integrations.StreamResult, error) {
	p := api.GetUsersPaginated(slackapi.GetUsersOptionLimit(s.pageSize), slackapi.GetUsersOptionCursor(md.Cursor))
	p, err := p.Next(ctx)
	if err != nil {
		return nil, s.apiError(run, "users.list", err)
	}
	res := &integrations.StreamResult{}
	for i := range p.Users {
		u := userFrom(&p.Users[i])
		s.users.put(run.Integration.ID, u.ID, u, s.now())
		if u.skipReason() == "" {
			res.Members = append(res.Members, u.member())
		}
	}
	if p.Cursor != "" {
		next := integrations.NewStream(StreamMembers, membersMeta{Cursor: p.Cursor})
		res.NextPage = &next
	}
	return res, nil
}

func (s *Service) processChannel(ctx context.Context, run *integrations.RunContext, api *slackapi.Client, md channelMeta) (*integrations.StreamResult, error) {
	resp, err := api.GetConversationHistoryContext(ctx, &slackapi.GetConversationHistoryParameters{
		ChannelID: md.ChannelID, Cursor: md.Cursor, Limit: s.pageSize,
	})
	if err != nil {
		if code, ok := channelSkipCode(err); ok {
			return skipChannel(run, StreamChannel, md.ChannelID, md.ChannelName, code), nil
		}
		return nil, s.apiError(run, "conversations.history", err)
	}
	// A check run reads a known channel back to the thread window for
	// the threads' latest_reply, but makes activities of the check window
	// only: the older messages need no user look-ups.
	check := !run.Onboarding && !md.New
	ws := windowStart(run)
	authored := resp.Messages
	if check {
		authored = make([]slackapi.Message, 0, len(resp.Messages))
		for i := range resp.Messages {
			if !olderThan(&resp.Messages[i], ws) {
				authored = append(authored, resp.Messages[i])
			}
		}
	}
	users, err := s.resolveUsers(ctx, run, api, userIDs(authored))
	if err != nil {
		return nil, err
	}
	ch := channelRef{ID: md.ChannelID, Name: md.ChannelName}
	texts := make(map[string]string, len(resp.Messages))
	for i := range resp.Messages {
		texts[resp.Messages[i].Timestamp] = renderBody(resp.Messages[i].Text, users)
	}

	res := &integrations.StreamResult{}
	for i := range resp.Messages {
		m := &resp.Messages[i]
		// In a check run, a thread of a known channel whose last reply is
		// older than the window has nothing new: no stream for it. One
		// with a new reply gets one however old its parent (within the
		// thread window this page is read to).
		if isThreadParent(m) && !(check && repliedBefore(m, ws)) {
			res.NewStreams = append(res.NewStreams, integrations.NewStream(StreamThread, threadMeta{
				ChannelID: md.ChannelID, ChannelName: md.ChannelName, ThreadTS: m.Timestamp,
				ParentText: texts[m.Timestamp], New: md.New, TeamURL: md.TeamURL,
			}))
		}
		if check && olderThan(m, ws) {
			continue // stored by the run that saw it within its window
		}
		parent := replyParent(m)
		if a, ok := activityOf(m, users, ch, md.TeamURL, parent, texts[parent]); ok {
			res.Activities = append(res.Activities, a)
		}
	}
	if t, ts := oldestTS(resp.Messages, ""); ts != "" {
		res.LastRecordTimestamp, res.LastRecord = t, ts
	}
	if next := resp.ResponseMetaData.NextCursor; next != "" {
		nmd := md
		nmd.Cursor = next
		np := integrations.NewStream(StreamChannel, nmd)
		res.NextPage = &np
	} else if run.Onboarding || md.New {
		// The whole history has been read (its channel_join messages
		// included): now the members whose join it does not show.
		res.NewStreams = append(res.NewStreams, integrations.NewStream(StreamChannelMembers, channelMembersMeta{
			ChannelID: md.ChannelID, ChannelName: md.ChannelName,
		}))
	}
	return res, nil
}

// olderThan reports a message posted before t.
func olderThan(m *slackapi.Message, t time.Time) bool {
	at, ok := parseTS(m.Timestamp)
	return ok && at.Before(t)
}

// repliedBefore reports a thread parent whose latest reply is older than t.
func repliedBefore(m *slackapi.Message, t time.Time) bool {
	lr, ok := parseTS(m.LatestReply)
	return ok && lr.Before(t)
}

func (s *Service) processThread(ctx context.Context, run *integrations.RunContext, api *slackapi.Client, md threadMeta) (*integrations.StreamResult, error) {
	params := &slackapi.GetConversationRepliesParameters{
		ChannelID: md.ChannelID, Timestamp: md.ThreadTS, Cursor: md.Cursor, Limit: s.pageSize,
	}
	if !run.Onboarding && !md.New {
		// Replies come oldest first, so the window cannot be found by
		// paging until the data gets old (the next page is always newer):
		// the API is asked for the window's replies only. IsProcessingFinished
		// still guards the paging, and never fires on such pages.
		params.Oldest = formatTS(windowStart(run))
	}
	msgs, _, next, err := api.GetConversationRepliesContext(ctx, params)
	if err != nil {
		if code, ok := channelSkipCode(err); ok {
			return skipChannel(run, StreamThread, md.ChannelID, md.ChannelName, code), nil
		}
		return nil, s.apiError(run, "conversations.replies", err)
	}
	// The parent comes first (on the first page); the channel stream has
	// already made its activity. Its text, when it is there, is fresher
	// than the one the stream was given.
	replies := make([]slackapi.Message, 0, len(msgs))
	var parent *slackapi.Message
	for i, m := range msgs {
		if m.Timestamp != md.ThreadTS {
			replies = append(replies, m)
		} else {
			parent = &msgs[i]
		}
	}
	lookup := userIDs(replies)
	if parent != nil {
		lookup = append(lookup, mentionedUsers(parent.Text)...)
	}
	users, err := s.resolveUsers(ctx, run, api, lookup)
	if err != nil {
		return nil, err
	}
	if parent != nil {
		md.ParentText = renderBody(parent.Text, users)
	}
	ch := channelRef{ID: md.ChannelID, Name: md.ChannelName}
	res := &integrations.StreamResult{}
	for i := range replies {
		if a, ok := activityOf(&replies[i], users, ch, md.TeamURL, md.ThreadTS, md.ParentText); ok {
			res.Activities = append(res.Activities, a)
		}
	}
	if t, ts := oldestTS(replies, ""); ts != "" {
		res.LastRecordTimestamp, res.LastRecord = t, ts
	}
	if next != "" {
		nmd := md
		nmd.Cursor = next
		np := integrations.NewStream(StreamThread, nmd)
		res.NextPage = &np
	}
	return res, nil
}

func (s *Service) processChannelMembers(ctx context.Context, run *integrations.RunContext, api *slackapi.Client, md channelMembersMeta) (*integrations.StreamResult, error) {
	ids, next, err := api.GetUsersInConversationContext(ctx, &slackapi.GetUsersInConversationParameters{
		ChannelID: md.ChannelID, Cursor: md.Cursor, Limit: s.pageSize,
	})
	if err != nil {
		if code, ok := channelSkipCode(err); ok {
			return skipChannel(run, StreamChannelMembers, md.ChannelID, md.ChannelName, code), nil
		}
		return nil, s.apiError(run, "conversations.members", err)
	}
	lookup := make([]string, 0, len(ids))
	for _, id := range ids {
		if id != slackbotID {
			lookup = append(lookup, id)
		}
	}
	users, err := s.resolveUsers(ctx, run, api, lookup)
	if err != nil {
		return nil, err
	}
	ch := channelRef{ID: md.ChannelID, Name: md.ChannelName}
	res := &integrations.StreamResult{}
	for _, id := range lookup {
		if u := users[id]; u.skipReason() == "" {
			res.Activities = append(res.Activities, joinActivity(u, ch, epoch))
		}
	}
	if next != "" {
		nmd := md
		nmd.Cursor = next
		np := integrations.NewStream(StreamChannelMembers, nmd)
		res.NextPage = &np
	}
	return res, nil
}

// activityOf makes the activity of one message, if it has one: a
// `message` for what a person said, a `channel_joined` for a join. Bots
// and apps (bot_message, bot_id, is_bot), Slackbot, unknown users, and
// housekeeping subtypes (tombstone, channel_topic, ...) have none.
//
// parentTS and parentText are the thread's parent, for a reply.
func activityOf(m *slackapi.Message, users map[string]*userInfo, ch channelRef, teamURL, parentTS, parentText string) (integrations.Activity, bool) {
	if isBotMessage(m) || m.User == "" {
		return integrations.Activity{}, false
	}
	u := users[m.User]
	at, ok := parseTS(m.Timestamp)
	if u.skipReason() != "" || !ok {
		return integrations.Activity{}, false
	}
	if m.SubType == subtypeChannelJoin {
		return joinActivity(u, ch, at), true
	}
	if !messageSubtypes[m.SubType] {
		return integrations.Activity{}, false
	}
	return messageActivity(m, at, u, ch, teamURL, parentTS, parentText, users), true
}
