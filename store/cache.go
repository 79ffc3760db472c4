package store

import (
	"encoding/json"

	lru "github.com/hashicorp/golang-lru/v2"
)

// The documents every stream of a run needs, the run's pipelineData and
// the integration's settings, are kept in memory by row and version, so
// that each ProcessStream reads only their version numbers: a Dev.to
// onboarding's documents grow with its articles, and reading them whole
// per stream made the run read O(articles²) bytes. The version comes from
// a sequence a trigger draws from whenever the column is set (migration
// 00086), so a cached document is used only while it is the stored one,
// whoever changed it meanwhile.

// docCacheEntries bounds the cache: a worker runs at most its activity
// concurrency of runs at once, two documents each.
const docCacheEntries = 128

// maxCachedDoc keeps very large documents out of memory: they are read
// from the database every time instead.
const maxCachedDoc = 16 << 20

type docKey struct {
	kind string // docPipeline or docSettings
	id   string
}

type cachedDoc struct {
	version int64
	data    json.RawMessage
}

type docCache struct {
	lru *lru.Cache[docKey, cachedDoc]
}

func newDocCache() *docCache {
	c, err := lru.New[docKey, cachedDoc](docCacheEntries)
	if err != nil {
		panic(err) // only for a size <= 0
	}
	return &docCache{lru: c}
}

// get returns the document when the cache has this version of it.
func (c *docCache) get(kind, id string, version int64) (json.RawMessage, bool) {
	d, ok := c.lru.Get(docKey{kind, id})
	if !ok || d.version != version {
		return nil, false
	}
	return d.data, true
}

func (c *docCache) put(kind, id string, version int64, data json.RawMessage) {
	if len(data) > maxCachedDoc {
		c.lru.Remove(docKey{kind, id})
		return
	}
	c.lru.Add(docKey{kind, id}, cachedDoc{version: version, data: data})
}

// Document kinds.
const (
	docPipeline = "pipeline"
	docSettings = "settings"
)
