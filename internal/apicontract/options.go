package apicontract

import (
	"strconv"
	"strings"
)

// Option relaxes or adjusts a Spec. Every relaxation takes a reason: a
// relaxation without one makes LoadSpec fail.
type Option func(*config)

type config struct {
	prefixes       []string
	skipStatus     map[int]string
	ignoreBodies   []ignoredBody
	ignoreSecurity string
	patches        []patch
	// missingReasons lists the options given without a reason.
	missingReasons []string
}

type ignoredBody struct {
	method, path, reason string
}

type patch struct {
	reason string
	fn     func(doc map[string]any)
}

// StripPrefix removes prefix from request paths that start with it before
// they are matched against the spec's paths, e.g. StripPrefix("/api/v9")
// for a client that calls an older API version than the spec's server
// (/api/v10). The spec's own server paths are removed without it.
func StripPrefix(prefix string) Option {
	return func(c *config) {
		c.prefixes = append(c.prefixes, strings.TrimSuffix(prefix, "/"))
	}
}

// SkipStatus leaves responses with this status unchecked, e.g. 429, whose
// body and headers most specs do not describe. Requests that got such a
// response are still checked.
func SkipStatus(status int, reason string) Option {
	return func(c *config) {
		if reason == "" {
			c.missingReasons = append(c.missingReasons, "SkipStatus("+strconv.Itoa(status)+")")
		}
		if c.skipStatus == nil {
			c.skipStatus = map[int]string{}
		}
		c.skipStatus[status] = reason
	}
}

// IgnoreResponseBody leaves the response bodies of one operation unchecked
// (the status and headers still are). method "" or "*" means every method;
// pathPattern is the path template as the spec writes it, e.g. "/users/{id}".
func IgnoreResponseBody(method, pathPattern, reason string) Option {
	return func(c *config) {
		if reason == "" {
			c.missingReasons = append(c.missingReasons, "IgnoreResponseBody("+method+" "+pathPattern+")")
		}
		c.ignoreBodies = append(c.ignoreBodies, ignoredBody{method: strings.ToUpper(method), path: pathPattern, reason: reason})
	}
}

// IgnoreSecurity stops checking that requests carry the credentials the
// spec's security requirements ask for. By default a request must carry
// the credential of one of its requirements (the header, query parameter
// or cookie of an apiKey scheme, the Authorization header of the others);
// its value is never checked nor reported.
func IgnoreSecurity(reason string) Option {
	return func(c *config) {
		if reason == "" {
			c.missingReasons = append(c.missingReasons, "IgnoreSecurity")
		}
		c.ignoreSecurity = reason
	}
}

// PatchSpec edits the spec's JSON document before it is parsed, to fix a
// defect of the spec (see testdata/apispecs/README.md). Patches run in the order
// given. A patch that panics, e.g. because Lookup found the spec changed,
// fails LoadSpec with its reason.
func PatchSpec(reason string, fn func(doc map[string]any)) Option {
	return func(c *config) {
		if reason == "" {
			c.missingReasons = append(c.missingReasons, "PatchSpec")
		}
		c.patches = append(c.patches, patch{reason: reason, fn: fn})
	}
}

// Lookup walks a decoded JSON document through object keys and returns the
// object found there, for use in PatchSpec. It panics, naming the key, when
// a step is missing or is not an object: the patch no longer fits the spec.
func Lookup(doc map[string]any, keys ...string) map[string]any {
	cur := doc
	for i, k := range keys {
		next, ok := cur[k].(map[string]any)
		if !ok {
			panic("apicontract.Lookup: no object at " + strings.Join(keys[:i+1], " > "))
		}
		cur = next
	}
	return cur
}

func (c *config) bodyIgnored(method, pathPattern string) bool {
	for _, ib := range c.ignoreBodies {
		if ib.path == pathPattern && (ib.method == "" || ib.method == "*" || ib.method == method) {
			return true
		}
	}
	return false
}
