package discord

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/crowdflow/crowdflow/integrations"
)

// ProcessStream implements integrations.Service: one page of members,
// messages or archived threads.
func (s *Service) ProcessStream(ctx context.Context, run *integrations.RunContext, st integrations.Stream) (*integrations.StreamResult, error) {
	cfg, err := s.runConfig(run)
	if err != nil {
		return nil, err
	}
	c := s.newClient(cfg.token)
	switch st.Name {
	case streamMembers:
		var m membersMeta
		if err := st.DecodeMetadata(&m); err != nil {
			return nil, integrations.Permanent(fmt.Errorf("discord: members stream metadata: %w", err))
		}
		return s.processMembers(ctx, run, c, cfg, m)
	case streamChannel:
		var m channelMeta
		if err := st.DecodeMetadata(&m); err != nil || m.ID == "" {
			return nil, integrations.Permanent(fmt.Errorf("discord: channel stream metadata %s: %v", st.Metadata, err))
		}
		return s.processChannel(ctx, run, c, cfg, m)
	case streamThreads:
		var m threadListMeta
		if err := st.DecodeMetadata(&m); err != nil || m.ChannelID == "" {
			return nil, integrations.Permanent(fmt.Errorf("discord: threads stream metadata %s: %v", st.Metadata, err))
		}
		return s.processThreadList(ctx, run, c, cfg, m)
	}
	return nil, integrations.Permanent(fmt.Errorf("discord: unknown stream %q", st.Name))
}

// processMembers reads a page of members, in ascending user id order, and
// makes a joined_guild activity of each human member. In a check run only
// the joins since the check window started count: the listing is ordered
// by user id, not by join time (an old account may join today), so a
// check run reads it whole to find them, and makes nothing of the rest.
func (s *Service) processMembers(ctx context.Context, run *integrations.RunContext, c *client, cfg *runConfig, m membersMeta) (*integrations.StreamResult, error) {
	members, h, err := c.members(ctx, cfg.guildID, m.After)
	if err != nil {
		var ae *apiError
		if errors.As(err, &ae) && ae.Status == http.StatusForbidden {
			// Missing Access here means the GUILD_MEMBERS privileged
			// intent is off: only the bot's owner can turn it on.
			return nil, integrations.Permanent(fmt.Errorf("%w: turn on the Server Members Intent of the bot", ae))
		}
		return nil, guildErr(err, cfg.guildID)
	}
	res := &integrations.StreamResult{Sleep: s.sleepFor(ctx, h)}
	check := !run.Onboarding
	cutoff := cfg.cutoff(run)
	for _, gm := range members {
		if gm == nil || gm.User == nil {
			continue
		}
		res.LastRecord = gm.User.ID
		if gm.User.Bot {
			continue
		}
		if check && (gm.JoinedAt.IsZero() || gm.JoinedAt.Before(cutoff)) {
			continue // known since an earlier run
		}
		mem := toMember(gm.User, gm.Nick)
		if gm.JoinedAt.IsZero() {
			// Without a join time there is no activity to date, but
			// the member is still one.
			res.Members = append(res.Members, mem)
			continue
		}
		mem.JoinedAt = gm.JoinedAt.UTC()
		res.Activities = append(res.Activities, integrations.Activity{
			Type:           TypeJoinedGuild,
			SourceID:       joinedSourceID(gm.User.ID, gm.JoinedAt),
			Timestamp:      gm.JoinedAt.UTC(),
			Member:         mem,
			Score:          scoreJoinedGuild,
			IsContribution: false,
		})
	}
	if len(members) == membersPageSize {
		last := members[len(members)-1]
		if last != nil && last.User != nil {
			next := integrations.NewStream(streamMembers, membersMeta{After: last.User.ID})
			res.NextPage = &next
		}
	}
	return res, nil
}

// joinedSourceID is the source id of a join: the user id and the join time
// (as JavaScript's toISOString writes it, as crowd.dev did). Both come from
// Discord; a member who leaves and comes back has a new join.
func joinedSourceID(userID string, joinedAt time.Time) string {
	return "gen-" + userID + "-" + joinedAt.UTC().Format("2006-01-02T15:04:05.000Z")
}

// processChannel reads a page of a channel's or thread's messages, newest
// first, and makes streams of the threads its messages started.
func (s *Service) processChannel(ctx context.Context, run *integrations.RunContext, c *client, cfg *runConfig, m channelMeta) (*integrations.StreamResult, error) {
	msgs, h, err := c.messages(ctx, m.ID, m.Before)
	if err != nil {
		if ae, ok := channelGone(err); ok {
			// Permissions changed, or the channel was deleted, since
			// Preprocess: skip it rather than fail the run.
			logger(run).Warn("discord: skipping a channel the bot can no longer read",
				"guild", cfg.guildID, "channel", m.ID, "channelName", m.Name, "status", ae.Status, "code", ae.Code, "reason", ae.Message)
			return &integrations.StreamResult{Sleep: s.sleepFor(ctx, h),
				Skipped: fmt.Sprintf("channel %s (%s): %d %s (code %d)", m.Name, m.ID, ae.Status, ae.Message, ae.Code)}, nil
		}
		return nil, err
	}
	res := &integrations.StreamResult{Sleep: s.sleepFor(ctx, h)}

	var known map[string]bool
	if pd, err := decodePipeline(run); err == nil {
		known = pd.knownThreads()
	}
	check := !run.Onboarding
	cutoff := cfg.cutoff(run)
	parent := parentChannel{id: m.ID, name: m.Name, forum: m.Forum, full: m.Full}
	emitted := map[string]bool{}
	empty, eligible := 0, 0

	for _, msg := range msgs {
		if msg == nil {
			continue
		}
		res.LastRecord = msg.ID
		res.LastRecordTimestamp = msg.Timestamp.UTC()

		// A message a thread was started from carries the thread; the
		// thread has the message's id. Threads Preprocess listed are
		// streamed already, and a thread listed by a later "threads"
		// page gets the same metadata, which the engine's unique key
		// folds into one stream.
		if t := msg.Thread; t != nil && m.ParentID == "" && !known[t.ID] && !emitted[t.ID] && isPublicThread(t.Type) &&
			(!check || m.Full || recent(t.LastMessageID, cutoff)) {
			emitted[t.ID] = true
			res.NewStreams = append(res.NewStreams, integrations.NewStream(streamChannel, parent.thread(t)))
		}

		a, ok := messageActivity(cfg.guildID, m, msg)
		if !ok {
			continue
		}
		eligible++
		if msg.Content == "" && len(msg.Attachments) == 0 {
			empty++
		}
		res.Activities = append(res.Activities, a)
	}
	if eligible > 0 && empty == eligible {
		logger(run).Warn("discord: every message of the page has empty content: is the Message Content Intent of the bot on?",
			"guild", cfg.guildID, "channel", m.ID)
	}
	if len(msgs) == messagesPageSize {
		next := m
		next.Before = msgs[len(msgs)-1].ID
		ns := integrations.NewStream(streamChannel, next)
		res.NextPage = &ns
	}
	return res, nil
}

// processThreadList reads a page of a channel's archived public threads,
// most recently archived first, and makes a stream of each.
func (s *Service) processThreadList(ctx context.Context, run *integrations.RunContext, c *client, cfg *runConfig, m threadListMeta) (*integrations.StreamResult, error) {
	page, h, err := c.archivedThreads(ctx, m.ChannelID, m.Before)
	if err != nil {
		if ae, ok := channelGone(err); ok {
			logger(run).Warn("discord: skipping the archived threads of a channel the bot can no longer read",
				"guild", cfg.guildID, "channel", m.ChannelID, "status", ae.Status, "code", ae.Code, "reason", ae.Message)
			return &integrations.StreamResult{Sleep: s.sleepFor(ctx, h),
				Skipped: fmt.Sprintf("archived threads of channel %s: %d %s (code %d)", m.ChannelID, ae.Status, ae.Message, ae.Code)}, nil
		}
		return nil, err
	}
	res := &integrations.StreamResult{Sleep: s.sleepFor(ctx, h)}
	var known map[string]bool
	if pd, err := decodePipeline(run); err == nil {
		known = pd.knownThreads()
	}
	check := !run.Onboarding
	cutoff := cfg.cutoff(run)
	parent := parentChannel{id: m.ChannelID, name: m.ChannelName, forum: m.Forum, full: m.Full}
	done := !page.HasMore
	for _, t := range page.Threads {
		if t == nil {
			continue
		}
		at := archiveTime(t)
		res.LastRecord = t.ID
		res.LastRecordTimestamp = at
		if check && !m.Full && at.Before(cutoff) {
			done = true
			break
		}
		if isPublicThread(t.Type) && !known[t.ID] && (!check || m.Full || recent(t.LastMessageID, cutoff)) {
			res.NewStreams = append(res.NewStreams, integrations.NewStream(streamChannel, parent.thread(t)))
		}
	}
	if !done && !res.LastRecordTimestamp.IsZero() {
		next := m
		next.Before = res.LastRecordTimestamp
		ns := integrations.NewStream(streamThreads, next)
		res.NextPage = &ns
	}
	return res, nil
}

// messageActivity makes the activity of a message, if it is one: default
// and reply messages by people. System messages (joins, pins, thread
// created, thread starter, ...), bots and webhooks are not.
func messageActivity(guildID string, m channelMeta, msg *discordgo.Message) (integrations.Activity, bool) {
	if msg.Type != discordgo.MessageTypeDefault && msg.Type != discordgo.MessageTypeReply {
		return integrations.Activity{}, false
	}
	if msg.Author == nil || msg.Author.Bot || msg.Author.System || msg.WebhookID != "" {
		return integrations.Activity{}, false
	}
	channelID := msg.ChannelID
	if channelID == "" {
		channelID = m.ID
	}
	typ := TypeMessage
	if m.Forum && m.ParentID != "" && msg.ID == m.ID {
		// A forum or media post's opening message has the thread's id:
		// it starts the thread (what crowd.dev meant thread_started for).
		typ = TypeThreadStarted
	}
	a := integrations.Activity{
		Type:           typ,
		SourceID:       msg.ID,
		Timestamp:      msg.Timestamp.UTC(),
		Member:         toMember(msg.Author, ""),
		Body:           replaceMentions(msg.Content, msg.Mentions),
		URL:            "https://discord.com/channels/" + guildID + "/" + channelID + "/" + msg.ID,
		Score:          scoreMessage,
		IsContribution: true,
		Attributes:     map[string]any{"thread": m.ParentID != "", "forum": m.Forum},
	}
	if m.ParentID != "" {
		a.Channel, a.Title = m.ParentName, m.Name
		a.Attributes["childChannel"] = m.Name
		// The thread groups its messages, except its own first message
		// (a forum post's opening message has the thread's id).
		if msg.ID != m.ID {
			a.SourceParentID = m.ID
		}
	} else {
		a.Channel = m.Name
	}
	// A reply points at the message it answers, in a thread too. Other
	// references (forwards, crossposts) are not conversations.
	if msg.Type == discordgo.MessageTypeReply && msg.MessageReference != nil && msg.MessageReference.MessageID != "" {
		a.SourceParentID = msg.MessageReference.MessageID
	}
	if len(msg.Attachments) > 0 {
		urls := make([]string, 0, len(msg.Attachments))
		for _, at := range msg.Attachments {
			if at != nil && at.URL != "" {
				urls = append(urls, at.URL)
			}
		}
		a.Attributes["attachments"] = urls
	}
	reactions := make([]map[string]any, 0, len(msg.Reactions))
	for _, r := range msg.Reactions {
		if r != nil && r.Emoji != nil {
			reactions = append(reactions, map[string]any{"emoji": r.Emoji.Name, "emojiId": r.Emoji.ID, "count": r.Count})
		}
	}
	a.Attributes["reactions"] = reactions
	return a, true
}
