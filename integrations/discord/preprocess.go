package discord

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/bwmarrin/discordgo"
	"golang.org/x/sync/errgroup"

	"github.com/crowdflow/crowdflow/integrations"
)

// pipelineData is what Preprocess finds, stored on the run row. Besides the
// streams to make it records the channels that were skipped and why, so an
// operator looking at the run sees them.
type pipelineData struct {
	GuildID string `json:"guildId"`
	// Channels are the message streams of text and announcement channels.
	Channels []channelMeta `json:"channels"`
	// Threads are the message streams of threads (active ones and the
	// first page of archived ones), sorted by id.
	Threads []channelMeta `json:"threads"`
	// ThreadLists continue archived-thread listings longer than a page.
	ThreadLists []threadListMeta `json:"threadLists,omitempty"`
	// Readable are the text, announcement and forum channels the bot can
	// read (Postprocess writes them to the settings).
	Readable []ChannelRef `json:"readable"`
	// Skipped are the channels the bot cannot read.
	Skipped []skippedChannel `json:"skipped,omitempty"`
}

type skippedChannel struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Reason string `json:"reason"`
}

// channelMeta is the metadata of a "channel" stream: a channel or a thread
// and where its pagination is. Everything in it is derived from Discord's
// data only, never from the time of the run, so that the same thread found
// twice (listed by Preprocess, and started by a message) gives the same
// bytes and the engine's unique key on (run, name, metadata) keeps one.
type channelMeta struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// ParentID and ParentName are the channel a thread is in; empty for
	// a channel.
	ParentID   string `json:"parentId,omitempty"`
	ParentName string `json:"parentName,omitempty"`
	// Forum: the thread is a forum post.
	Forum bool `json:"forum,omitempty"`
	// Full: a check run reads this channel's whole history, because the
	// channel is new to the integration.
	Full bool `json:"full,omitempty"`
	// Before is the cursor: the oldest message id read so far.
	Before string `json:"before,omitempty"`
}

// threadListMeta is the metadata of a "threads" stream: the archived public
// threads of a channel, older than Before.
type threadListMeta struct {
	ChannelID   string `json:"channelId"`
	ChannelName string `json:"channelName"`
	Forum       bool   `json:"forum,omitempty"`
	Full        bool   `json:"full,omitempty"`
	// Before is the archive time of the oldest thread listed so far.
	Before time.Time `json:"before"`
}

type membersMeta struct {
	After string `json:"after,omitempty"`
}

func decodePipeline(run *integrations.RunContext) (*pipelineData, error) {
	if len(run.PipelineData) == 0 || string(run.PipelineData) == "null" {
		return nil, errors.New("discord: the run has no pipeline data: Preprocess did not run")
	}
	var pd pipelineData
	if err := json.Unmarshal(run.PipelineData, &pd); err != nil {
		return nil, fmt.Errorf("discord: pipeline data: %w", err)
	}
	return &pd, nil
}

// knownThreads are the threads Preprocess made streams for.
func (pd *pipelineData) knownThreads() map[string]bool {
	m := make(map[string]bool, len(pd.Threads))
	for _, t := range pd.Threads {
		m[t.ID] = true
	}
	return m
}

// parentChannel is a readable channel threads can belong to.
type parentChannel struct {
	id, name string
	forum    bool
	full     bool
}

func (p parentChannel) thread(t *discordgo.Channel) channelMeta {
	return channelMeta{ID: t.ID, Name: t.Name, ParentID: p.id, ParentName: p.name, Forum: p.forum, Full: p.full}
}

// isReadableKind reports whether a channel type holds messages or threads
// the service reads: text and announcement channels, the text chat of
// voice and stage channels, and the posts (threads) of forum and media
// channels. Category and directory channels are ignored.
func isReadableKind(t discordgo.ChannelType) bool {
	switch t {
	case discordgo.ChannelTypeGuildText, discordgo.ChannelTypeGuildNews,
		discordgo.ChannelTypeGuildVoice, discordgo.ChannelTypeGuildStageVoice,
		discordgo.ChannelTypeGuildForum, discordgo.ChannelTypeGuildMedia:
		return true
	}
	return false
}

// threadsOnly: forum and media channels hold posts (threads) and no
// messages of their own.
func threadsOnly(t discordgo.ChannelType) bool {
	return t == discordgo.ChannelTypeGuildForum || t == discordgo.ChannelTypeGuildMedia
}

// hasThreads: voice and stage channels have a text chat but no threads
// (listing their archived threads answers 400, code 50024).
func hasThreads(t discordgo.ChannelType) bool {
	return t != discordgo.ChannelTypeGuildVoice && t != discordgo.ChannelTypeGuildStageVoice
}

// isPublicThread: announcement and public threads. Private threads are
// never read: their members were invited, and their messages must not turn
// up as public community activity.
func isPublicThread(t discordgo.ChannelType) bool {
	return t == discordgo.ChannelTypeGuildNewsThread || t == discordgo.ChannelTypeGuildPublicThread
}

// recent reports whether a channel or thread may hold messages newer than
// cutoff, judging by the time of its last_message_id (a snowflake holds
// its creation time). A channel that never had a message has none.
func recent(lastMessageID string, cutoff time.Time) bool {
	if lastMessageID == "" {
		return false
	}
	t, err := discordgo.SnowflakeTimestamp(lastMessageID)
	if err != nil {
		return true
	}
	return !t.Before(cutoff)
}

// Preprocess implements integrations.Preprocessor. It lists the guild's
// channels and active threads, and the first page of archived public
// threads of each text, announcement and forum channel. That listing needs
// the same access as reading the channel, so it doubles as the probe: a
// channel answering 403 (Missing Access, code 50001, or Missing
// Permissions) or 404 is skipped, logged, and kept with its reason in the
// pipeline data.
//
// In a check run, a channel or thread whose last message is older than the
// check window gets no stream, nor does a thread archived before the
// window: the first page would be all old messages. Channels new to the
// integration (see Settings.Channels) are read in full.
//
// A 429 here returns RateLimitedError like a stream does. Preprocess makes
// one call per channel route and never calls a route twice, so the
// X-RateLimit-Remaining of a route says nothing about the next call, and
// is not waited on.
func (s *Service) Preprocess(ctx context.Context, run *integrations.RunContext) (json.RawMessage, error) {
	cfg, err := s.runConfig(run)
	if err != nil {
		return nil, err
	}
	log := logger(run)
	c := s.newClient(cfg.token)
	check := !run.Onboarding
	cutoff := cfg.cutoff(run)

	chans, _, err := c.guildChannels(ctx, cfg.guildID)
	if err != nil {
		return nil, guildErr(err, cfg.guildID)
	}
	active, _, err := c.activeThreads(ctx, cfg.guildID)
	if err != nil {
		return nil, guildErr(err, cfg.guildID)
	}

	pd := &pipelineData{GuildID: cfg.guildID, Channels: []channelMeta{}, Threads: []channelMeta{}, Readable: []ChannelRef{}}
	var candidates []*discordgo.Channel
	for _, ch := range chans {
		if ch != nil && isReadableKind(ch.Type) {
			candidates = append(candidates, ch)
		}
	}
	// The API's order is not defined; the streams' order should be.
	slices.SortStableFunc(candidates, func(a, b *discordgo.Channel) int {
		if c := cmp.Compare(a.Position, b.Position); c != 0 {
			return c
		}
		return cmpSnowflake(a.ID, b.ID)
	})

	pages, errs := archivedFirstPages(ctx, c, candidates)
	parents := map[string]parentChannel{}
	threads := map[string]channelMeta{}
	for i, ch := range candidates {
		page, err := pages[i], errs[i]
		if err != nil {
			if ae, ok := channelGone(err); ok {
				reason := fmt.Sprintf("HTTP %d %s (code %d): the bot cannot read this channel", ae.Status, ae.Message, ae.Code)
				log.Warn("discord: skipping a channel the bot cannot read",
					"guild", cfg.guildID, "channel", ch.ID, "channelName", ch.Name, "status", ae.Status, "code", ae.Code, "reason", ae.Message)
				pd.Skipped = append(pd.Skipped, skippedChannel{ID: ch.ID, Name: ch.Name, Reason: reason})
				continue
			}
			return nil, err
		}
		p := parentChannel{
			id:    ch.ID,
			name:  ch.Name,
			forum: threadsOnly(ch.Type),
			full:  check && cfg.known != nil && !cfg.known[ch.ID],
		}
		parents[ch.ID] = p
		pd.Readable = append(pd.Readable, ChannelRef{ID: ch.ID, Name: ch.Name})
		// A forum or media channel holds threads only: it has no
		// messages of its own.
		if !p.forum && (!check || p.full || recent(ch.LastMessageID, cutoff)) {
			pd.Channels = append(pd.Channels, channelMeta{ID: ch.ID, Name: ch.Name, Full: p.full})
		}

		// Archived threads come most recently archived first.
		done := !page.HasMore
		var oldest time.Time
		for _, t := range page.Threads {
			at := archiveTime(t)
			oldest = at
			if check && !p.full && at.Before(cutoff) {
				// Archived before the window: no message can have
				// been posted since (posting unarchives), nor in any
				// thread after this one.
				done = true
				break
			}
			if isPublicThread(t.Type) && (!check || p.full || recent(t.LastMessageID, cutoff)) {
				threads[t.ID] = p.thread(t)
			}
		}
		if !done && !oldest.IsZero() {
			pd.ThreadLists = append(pd.ThreadLists, threadListMeta{ChannelID: ch.ID, ChannelName: ch.Name, Forum: p.forum, Full: p.full, Before: oldest})
		}
	}

	for _, t := range active.Threads {
		if t == nil || !isPublicThread(t.Type) {
			continue
		}
		p, ok := parents[t.ParentID]
		if !ok {
			continue // in a channel that is skipped or not read
		}
		if check && !p.full && !recent(t.LastMessageID, cutoff) {
			continue
		}
		threads[t.ID] = p.thread(t)
	}
	for _, t := range threads {
		pd.Threads = append(pd.Threads, t)
	}
	slices.SortFunc(pd.Threads, func(a, b channelMeta) int { return cmpSnowflake(a.ID, b.ID) })

	log.Info("discord: preprocess done", "guild", cfg.guildID, "channels", len(pd.Channels), "threads", len(pd.Threads),
		"threadLists", len(pd.ThreadLists), "skipped", len(pd.Skipped))
	return json.Marshal(pd)
}

// preprocessCalls is how many archived-thread listings Preprocess has in
// flight at once. A guild of a hundred channels made a hundred calls one
// after another (ten seconds at 100 ms a call) before any stream could
// start; each is its own route, and the quota ledger paces them against
// the bot's global limit.
const preprocessCalls = 8

// archivedFirstPages lists the first page of archived public threads of
// each channel that has threads, preprocessCalls at a time, and returns
// the pages and errors by the channels' index. Voice and stage chats have
// no threads to list, so no probe either (an empty page): a chat the bot
// cannot read is skipped by its stream. The results are read in the
// channels' order, so the outcome does not depend on which call answered
// first.
func archivedFirstPages(ctx context.Context, c *client, chans []*discordgo.Channel) ([]*discordgo.ThreadsList, []error) {
	pages := make([]*discordgo.ThreadsList, len(chans))
	errs := make([]error, len(chans))
	var g errgroup.Group
	g.SetLimit(preprocessCalls)
	for i, ch := range chans {
		pages[i] = &discordgo.ThreadsList{}
		if !hasThreads(ch.Type) {
			continue
		}
		g.Go(func() error {
			pages[i], _, errs[i] = c.archivedThreads(ctx, ch.ID, time.Time{})
			return nil
		})
	}
	_ = g.Wait()
	return pages, errs
}

// guildErr makes a guild-level 403 or 404 permanent: the bot is not in the
// guild, or the guild id is wrong, and no retry changes that.
func guildErr(err error, guildID string) error {
	if ae, ok := channelGone(err); ok {
		return integrations.Permanent(fmt.Errorf("%w: is the bot a member of guild %s?", ae, guildID))
	}
	return err
}

// archiveTime is when a thread's archive status last changed.
func archiveTime(t *discordgo.Channel) time.Time {
	if t.ThreadMetadata == nil {
		return time.Time{}
	}
	return t.ThreadMetadata.ArchiveTimestamp
}

// cmpSnowflake compares snowflakes as numbers.
func cmpSnowflake(a, b string) int {
	if len(a) != len(b) {
		return cmp.Compare(len(a), len(b))
	}
	return cmp.Compare(a, b)
}
