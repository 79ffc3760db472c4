package githubfake

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// pageParams reads per_page (default 30, max 100) and page (from 1).
func pageParams(r *http.Request) (perPage, page int) {
	perPage, page = 30, 1
	if n, err := strconv.Atoi(r.URL.Query().Get("per_page")); err == nil && n > 0 {
		perPage = min(n, 100)
	}
	if n, err := strconv.Atoi(r.URL.Query().Get("page")); err == nil && n > 0 {
		page = n
	}
	return perPage, page
}

// setLink writes GitHub's Link header. next links use nextPath (GitHub's
// own next URLs may name the repository by id: /repositories/{id}/...).
func setLink(w http.ResponseWriter, r *http.Request, nextPath string, perPage, page, total int) {
	last := max(1, (total+perPage-1)/perPage)
	link := func(p int, rel string) string {
		q := r.URL.Query()
		q.Set("per_page", strconv.Itoa(perPage))
		q.Set("page", strconv.Itoa(p))
		u := url.URL{Scheme: "http", Host: r.Host, Path: nextPath, RawQuery: q.Encode()}
		return fmt.Sprintf("<%s>; rel=%q", u.String(), rel)
	}
	var parts []string
	if page > 1 {
		parts = append(parts, link(page-1, "prev"), link(1, "first"))
	}
	if page < last {
		parts = append(parts, link(page+1, "next"), link(last, "last"))
	}
	if len(parts) > 0 {
		w.Header().Set("Link", strings.Join(parts, ", "))
	}
}

func (s *Server) restBudget(w http.ResponseWriter, cred credential) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// REST has its own budget (core), which the fake never exhausts; the
	// headers are sent as GitHub sends them.
	s.rateHeaders(w, &budget{remaining: PointsPerHour - 1, resetAt: s.o.Now().Add(time.Hour).Truncate(time.Second)}, "core")
}

// serveInstallationRepos is GET /installation/repositories.
func (s *Server) serveInstallationRepos(w http.ResponseWriter, r *http.Request, cred credential) {
	if cred.installation == 0 {
		writeJSON(w, http.StatusForbidden, map[string]any{"message": "You must authenticate with an installation access token in order to list repositories for an installation.", "documentation_url": "https://docs.github.com/rest/apps/installations#list-repositories-accessible-to-the-app-installation"})
		return
	}
	s.restBudget(w, cred)
	s.mu.Lock()
	var names []string
	for _, in := range s.world.Installations {
		if in.ID == cred.installation {
			names = append(names, in.Repos...)
		}
	}
	repos := map[string]Repo{}
	idx := map[string]int{}
	for i, rp := range s.world.Repos {
		repos[strings.ToLower(rp.Owner+"/"+rp.Name)] = rp
		idx[strings.ToLower(rp.Owner+"/"+rp.Name)] = i
	}
	s.mu.Unlock()
	sort.Strings(names)
	perPage, page := pageParams(r)
	var list []map[string]any
	for i := (page - 1) * perPage; i < len(names) && i < page*perPage; i++ {
		full := names[i]
		rp := repos[strings.ToLower(full)]
		owner, name, _ := strings.Cut(full, "/")
		list = append(list, map[string]any{
			"id": 500000 + idx[strings.ToLower(full)], "node_id": nodeID("R", "repo/"+full), "name": name, "full_name": full,
			"private": false, "html_url": "https://github.com/" + full, "url": "https://api.github.com/repos/" + full,
			"owner":      map[string]any{"login": owner, "type": "Organization"},
			"created_at": rp.CreatedAt.UTC().Format(time.RFC3339),
		})
	}
	setLink(w, r, r.URL.Path, perPage, page, len(names))
	writeJSON(w, http.StatusOK, map[string]any{"total_count": len(names), "repository_selection": "selected", "repositories": orEmpty(list)})
}

func orEmpty(l []map[string]any) []map[string]any {
	if l == nil {
		return []map[string]any{}
	}
	return l
}

// simpleUser renders GitHub's simple-user.
func simpleUser(login string, id int, bot bool) map[string]any {
	api := "https://api.github.com/users/" + login
	typ := "User"
	if bot {
		typ = "Bot"
	}
	return map[string]any{
		"login": login, "id": id, "node_id": nodeID("U", login), "avatar_url": fmt.Sprintf("https://avatars.githubusercontent.com/u/%d?v=4", id),
		"gravatar_id": "", "url": api, "html_url": "https://github.com/" + login, "followers_url": api + "/followers",
		"following_url": api + "/following{/other_user}", "gists_url": api + "/gists{/gist_id}", "starred_url": api + "/starred{/owner}{/repo}",
		"subscriptions_url": api + "/subscriptions", "organizations_url": api + "/orgs", "repos_url": api + "/repos",
		"events_url": api + "/events{/privacy}", "received_events_url": api + "/received_events", "type": typ, "site_admin": false,
		"user_view_type": "public",
	}
}

func (s *Server) userIndex(login string) (User, int, bool) {
	for i, u := range s.world.Users {
		if strings.EqualFold(u.Login, login) || (u.Bot && strings.EqualFold(u.Login+"[bot]", login)) {
			return u, 1000 + i, true
		}
	}
	return User{}, 0, false
}

// serveStargazers is GET /repos/{owner}/{repo}/stargazers (and its
// /repositories/{id}/ form, which GitHub's next links use): users, or
// {starred_at, user} with Accept: application/vnd.github.star+json.
func (s *Server) serveStargazers(w http.ResponseWriter, r *http.Request, cred credential) {
	s.restBudget(w, cred)
	s.mu.Lock()
	defer s.mu.Unlock()
	ri := -1
	if id := r.PathValue("id"); id != "" {
		if n, err := strconv.Atoi(id); err == nil && n >= 500000 && n-500000 < len(s.world.Repos) {
			ri = n - 500000
		}
	} else {
		for i, rp := range s.world.Repos {
			if strings.EqualFold(rp.Owner, r.PathValue("owner")) && strings.EqualFold(rp.Name, r.PathValue("repo")) {
				ri = i
			}
		}
	}
	if ri < 0 || s.world.Repos[ri].Unavailable != "" {
		writeJSON(w, http.StatusNotFound, map[string]any{"message": "Not Found", "documentation_url": "https://docs.github.com/rest/activity/starring#list-stargazers", "status": "404"})
		return
	}
	stars := append([]Star(nil), s.world.Repos[ri].Stars...)
	sort.SliceStable(stars, func(i, j int) bool { return stars[i].At.Before(stars[j].At) })
	perPage, page := pageParams(r)
	if page > 400 {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"message": "In order to keep the API fast for everyone, pagination is limited for this resource. Check the rel=last link relation in the Link response header to see how far back you can traverse.", "documentation_url": "https://docs.github.com/v3/#pagination", "status": "422"})
		return
	}
	withTime := strings.Contains(r.Header.Get("Accept"), "application/vnd.github.star+json")
	out := []map[string]any{}
	for i := (page - 1) * perPage; i < len(stars) && i < page*perPage; i++ {
		u, id, _ := s.userIndex(stars[i].User)
		login := stars[i].User
		if u.Bot && !strings.HasSuffix(login, "[bot]") {
			login += "[bot]"
		}
		su := simpleUser(login, id, u.Bot)
		if withTime {
			out = append(out, map[string]any{"starred_at": stars[i].At.UTC().Format(time.RFC3339), "user": su})
		} else {
			out = append(out, su)
		}
	}
	setLink(w, r, fmt.Sprintf("/repositories/%d/stargazers", 500000+ri), perPage, page, len(stars))
	writeJSON(w, http.StatusOK, out)
}

// serveUser is GET /users/{username}: public-user.
func (s *Server) serveUser(w http.ResponseWriter, r *http.Request, cred credential) {
	s.restBudget(w, cred)
	s.mu.Lock()
	u, id, ok := s.userIndex(r.PathValue("username"))
	s.mu.Unlock()
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]any{"message": "Not Found", "documentation_url": "https://docs.github.com/rest/users/users#get-a-user", "status": "404"})
		return
	}
	login := u.Login
	if u.Bot && !strings.HasSuffix(login, "[bot]") {
		login += "[bot]"
	}
	out := simpleUser(login, id, u.Bot)
	out["name"] = nullIfEmpty(u.Name)
	out["company"] = nullIfEmpty(u.Company)
	out["blog"] = u.WebsiteURL
	out["location"] = nullIfEmpty(u.Location)
	out["email"] = nullIfEmpty(u.Email)
	out["hireable"] = nil
	if u.IsHireable {
		out["hireable"] = true
	}
	out["bio"] = nullIfEmpty(u.Bio)
	out["public_repos"], out["public_gists"] = 0, 0
	out["followers"], out["following"] = u.Followers, 0
	out["created_at"] = u.CreatedAt.UTC().Format(time.RFC3339)
	out["updated_at"] = u.CreatedAt.UTC().Format(time.RFC3339)
	writeJSON(w, http.StatusOK, out)
}

// serveRateLimit is GET /rate_limit; it does not count against a limit.
func (s *Server) serveRateLimit(w http.ResponseWriter, r *http.Request, cred credential) {
	s.mu.Lock()
	b := *s.budgetFor(cred.token)
	s.mu.Unlock()
	core := map[string]any{"limit": PointsPerHour, "remaining": PointsPerHour, "used": 0, "reset": time.Now().Add(time.Hour).Unix(), "resource": "core"}
	gql := map[string]any{"limit": PointsPerHour, "remaining": b.remaining, "used": PointsPerHour - b.remaining, "reset": b.resetAt.Unix(), "resource": "graphql"}
	s.rateHeaders(w, &budget{remaining: PointsPerHour, resetAt: time.Now().Add(time.Hour).Truncate(time.Second)}, "core")
	search := map[string]any{"limit": 30, "remaining": 30, "used": 0, "reset": time.Now().Add(time.Minute).Unix(), "resource": "search"}
	writeJSON(w, http.StatusOK, map[string]any{"resources": map[string]any{"core": core, "graphql": gql, "search": search}, "rate": core})
}
