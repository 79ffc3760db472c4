package githubfake

import (
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/vektah/gqlparser/v2/ast"
)

// The executor runs a validated query over an object graph. Objects are
// maps from field name to value; a value is a scalar, an object, a list, a
// resolver (fieldFunc, for fields with arguments) or a connection. It knows
// nothing of GitHub: graph.go builds the objects.

// object is one GraphQL object. "__typename" must be set.
type object map[string]any

// fieldFunc resolves a field from its arguments.
type fieldFunc func(args map[string]any) (any, error)

// connection is a list of edges before paging. Each edge has "node" and
// may have more fields (StargazerEdge.starredAt); "key" identifies the edge
// in cursors, so a cursor keeps its place when items are added before it.
type connection struct {
	edges []object
	// total overrides totalCount for counts the fake keeps without items
	// (a user's followers).
	total int
}

// gqlError is one entry of the answer's errors, GitHub's shape.
type gqlError struct {
	Type      string     `json:"type,omitempty"`
	Path      []any      `json:"path,omitempty"`
	Locations []location `json:"locations,omitempty"`
	Message   string     `json:"message"`
}

type location struct {
	Line   int `json:"line"`
	Column int `json:"column"`
}

// fieldError is an error a resolver returns: it nulls the field and is
// reported with the field's path, as GitHub reports NOT_FOUND.
type fieldError struct {
	typ, msg string
}

func (e *fieldError) Error() string { return e.msg }

type executor struct {
	schema    *ast.Schema
	doc       *ast.QueryDocument
	vars      map[string]any
	errors    []gqlError
	nodeCount int
}

func (e *executor) selectionSet(obj object, set ast.SelectionSet, path []any) map[string]any {
	out := map[string]any{}
	e.collect(obj, set, path, out)
	return out
}

func (e *executor) collect(obj object, set ast.SelectionSet, path []any, out map[string]any) {
	typename, _ := obj["__typename"].(string)
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			key := s.Alias
			if key == "" {
				key = s.Name
			}
			if s.Name == "__typename" {
				out[key] = typename
				continue
			}
			v, err := e.resolve(obj, s)
			p := append(slices.Clone(path), key)
			if err != nil {
				ge := gqlError{Path: p, Message: err.Error(), Locations: []location{{s.Position.Line, s.Position.Column}}}
				if fe, ok := err.(*fieldError); ok {
					ge.Type = fe.typ
				}
				e.errors = append(e.errors, ge)
				out[key] = nil
				continue
			}
			out[key] = e.complete(v, s.Definition.Type, s, p)
		case *ast.InlineFragment:
			if e.matches(typename, s.TypeCondition) {
				e.collect(obj, s.SelectionSet, path, out)
			}
		case *ast.FragmentSpread:
			if s.Definition != nil && e.matches(typename, s.Definition.TypeCondition) {
				e.collect(obj, s.Definition.SelectionSet, path, out)
			}
		}
	}
}

// matches says whether an object of type typename satisfies a fragment's
// type condition (its own type, an interface it implements, a union it is
// in).
func (e *executor) matches(typename, cond string) bool {
	if cond == "" || cond == typename {
		return true
	}
	def := e.schema.Types[cond]
	if def == nil {
		return false
	}
	for _, t := range e.schema.GetPossibleTypes(def) {
		if t.Name == typename {
			return true
		}
	}
	return false
}

func (e *executor) resolve(obj object, f *ast.Field) (any, error) {
	v, ok := obj[f.Name]
	if !ok {
		return nil, nil
	}
	args := f.ArgumentMap(e.vars)
	if fn, ok := v.(fieldFunc); ok {
		var err error
		if v, err = fn(args); err != nil {
			return nil, err
		}
	}
	if c, ok := v.(*connection); ok {
		return e.page(c, args, f.Definition.Type.Name())
	}
	return v, nil
}

func (e *executor) complete(v any, t *ast.Type, f *ast.Field, path []any) any {
	if v == nil {
		return nil
	}
	if t.Elem != nil {
		var items []any
		switch l := v.(type) {
		case []object:
			for _, o := range l {
				items = append(items, o)
			}
		case []any:
			items = l
		case []string:
			for _, s := range l {
				items = append(items, s)
			}
		}
		out := make([]any, len(items))
		for i, it := range items {
			out[i] = e.complete(it, t.Elem, f, append(slices.Clone(path), i))
		}
		return out
	}
	switch x := v.(type) {
	case object:
		e.nodeCount++
		return e.selectionSet(x, f.SelectionSet, path)
	case time.Time:
		return x.UTC().Format(time.RFC3339)
	}
	return v
}

// page applies first/last/after/before to a connection and returns the
// connection object (edges, nodes, pageInfo, totalCount).
func (e *executor) page(c *connection, args map[string]any, typename string) (object, error) {
	edgeType := "Edge"
	if def := e.schema.Types[typename]; def != nil {
		if f := def.Fields.ForName("edges"); f != nil {
			edgeType = f.Type.Name()
		}
	}
	edges := c.edges
	start, end := 0, len(edges)
	if after, ok := args["after"].(string); ok && after != "" {
		i, err := cursorIndex(edges, after)
		if err != nil {
			return nil, err
		}
		start = i + 1
	}
	if before, ok := args["before"].(string); ok && before != "" {
		i, err := cursorIndex(edges, before)
		if err != nil {
			return nil, err
		}
		end = i
	}
	if start > end {
		start = end
	}
	window := edges[start:end]
	hasPrev, hasNext := start > 0, end < len(edges)
	if n, ok := intArg(args, "first"); ok && n < len(window) {
		window = window[:n]
		hasNext = true
	}
	if n, ok := intArg(args, "last"); ok && n < len(window) {
		window = window[len(window)-n:]
		hasPrev = true
	}
	outEdges := make([]object, len(window))
	nodes := make([]any, len(window))
	for i, ed := range window {
		o := object{"__typename": edgeType, "cursor": encodeCursor(ed["key"].(string))}
		for k, v := range ed {
			if k != "key" {
				o[k] = v
			}
		}
		outEdges[i] = o
		nodes[i] = ed["node"]
	}
	info := object{"__typename": "PageInfo", "hasNextPage": hasNext, "hasPreviousPage": hasPrev, "startCursor": nil, "endCursor": nil}
	if len(window) > 0 {
		info["startCursor"] = encodeCursor(window[0]["key"].(string))
		info["endCursor"] = encodeCursor(window[len(window)-1]["key"].(string))
	}
	return object{"__typename": typename, "edges": outEdges, "nodes": nodes, "pageInfo": info, "totalCount": max(len(edges), c.total)}, nil
}

func intArg(args map[string]any, name string) (int, bool) {
	switch n := args[name].(type) {
	case int64:
		return int(n), true
	case int:
		return n, true
	case float64:
		return int(n), true
	}
	return 0, false
}

// Cursors are opaque to clients, as GitHub's are ("Y3Vyc29yOnYyOpK5..."):
// base64 of a version tag and the edge's key.
func encodeCursor(key string) string {
	return base64.StdEncoding.EncodeToString([]byte("cursor:v2:" + key))
}

func cursorIndex(edges []object, cursor string) (int, error) {
	b, err := base64.StdEncoding.DecodeString(cursor)
	key, ok := strings.CutPrefix(string(b), "cursor:v2:")
	if err != nil || !ok {
		return 0, fmt.Errorf("`%s` does not appear to be a valid cursor.", cursor)
	}
	for i, ed := range edges {
		if ed["key"] == key {
			return i, nil
		}
	}
	// The item is gone: GitHub's cursors encode a position, so a cursor
	// past the end reads as the end. Answer an empty window, not an error.
	return len(edges), nil
}

// cost computes a query's points the way GitHub documents it: every
// connection needs as many requests as its parents' first/last multiply
// to; the sum divided by 100, rounded, at least 1. It also checks the
// limits GitHub enforces before running a query (first/last given, at most
// 100, at most 500,000 nodes).
func cost(schema *ast.Schema, set ast.SelectionSet, frags ast.FragmentDefinitionList, vars map[string]any) (points, nodes int, err *gqlError) {
	requests := 0
	var walk func(set ast.SelectionSet, mult int)
	walk = func(set ast.SelectionSet, mult int) {
		for _, sel := range set {
			switch s := sel.(type) {
			case *ast.Field:
				m := mult
				if s.Definition != nil && strings.HasSuffix(s.Definition.Type.Name(), "Connection") {
					args := s.ArgumentMap(vars)
					n, okF := intArg(args, "first")
					if l, okL := intArg(args, "last"); okL {
						n, okF = l, true
					}
					// A connection asked only for its totalCount needs no
					// bounds (stargazers { totalCount }), as on GitHub.
					if !okF && !selectsItems(s.SelectionSet, frags) {
						n, okF = 1, true
					}
					if !okF {
						if err == nil {
							err = &gqlError{Type: "MISSING_PAGINATION_BOUNDARIES", Path: []any{s.Name},
								Message: fmt.Sprintf("You must provide a `first` or `last` value to properly paginate the `%s` connection.", s.Name)}
						}
						n = 100
					} else if n > 100 || n < 0 {
						if err == nil {
							err = &gqlError{Type: "EXCESSIVE_PAGINATION", Path: []any{s.Name},
								Message: fmt.Sprintf("Requesting %d records on the `%s` connection exceeds the `first` limit of 100 records.", n, s.Name)}
						}
					}
					requests += mult
					m = mult * max(n, 1)
					nodes += m
				}
				walk(s.SelectionSet, m)
			case *ast.InlineFragment:
				walk(s.SelectionSet, mult)
			case *ast.FragmentSpread:
				if d := frags.ForName(s.Name); d != nil {
					walk(d.SelectionSet, mult)
				}
			}
		}
	}
	walk(set, 1)
	if nodes > 500000 && err == nil {
		err = &gqlError{Type: "MAX_NODE_LIMIT_EXCEEDED", Message: fmt.Sprintf("This query requests up to %d possible nodes which exceeds the maximum limit of 500,000.", nodes)}
	}
	points = (requests + 50) / 100
	if points < 1 {
		points = 1
	}
	return points, nodes, err
}

// selectsItems says whether a connection's selection reads its edges or
// nodes.
func selectsItems(set ast.SelectionSet, frags ast.FragmentDefinitionList) bool {
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			if s.Name == "edges" || s.Name == "nodes" {
				return true
			}
		case *ast.InlineFragment:
			if selectsItems(s.SelectionSet, frags) {
				return true
			}
		case *ast.FragmentSpread:
			if d := frags.ForName(s.Name); d != nil && selectsItems(d.SelectionSet, frags) {
				return true
			}
		}
	}
	return false
}
