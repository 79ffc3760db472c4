// Package apicontract proves that the project's fake API servers answer the
// way the real APIs do, by checking what they serve against the API owners'
// own OpenAPI descriptions, kept in the repository's testdata/apispecs
// (testdata/apispecs/README.md gives each file's source, version and licence).
//
// A test puts a Recorder in front of a fake, runs the service flows through
// it, and hands the recorded exchanges to Spec.Check:
//
//	spec := apicontract.LoadSpec(t, "discord.trimmed.json",
//		apicontract.SkipStatus(429, "the spec describes no 429 body"))
//	rec := apicontract.NewRecorder(fake.Handler())
//	srv := httptest.NewServer(rec)
//	... run the service against srv.URL ...
//	spec.Check(t, rec.Exchanges())
//
// Check validates every request (parameters, body, security) and every
// response (status, headers, body) with kin-openapi, MultiError on, and
// reports each violation with t.Errorf, naming the method, the path and the
// validator's message. An exchange whose path or method the spec does not
// know is a violation too: the fake serves something the real API does not.
// A response status the operation does not list is a violation as well.
//
// Matching ignores the scheme and host (fakes listen on 127.0.0.1). The
// path of the spec's servers (e.g. /api of https://dev.to/api) is removed
// from a request path that starts with it, and so is any StripPrefix prefix,
// before the path is matched against the spec's paths.
//
// The specs have defects (testdata/apispecs/README.md lists the known ones). A test
// relaxes the check only through Options, and every relaxation carries a
// reason, so that a reader sees what is not checked and why:
//
//   - StripPrefix: more base paths to remove (a client calling /api/v9 of a
//     spec written for /api/v10).
//   - SkipStatus: do not check responses with this status (429 bodies are
//     described by almost no spec); the request is still checked.
//   - IgnoreResponseBody: do not check the body of one operation's responses.
//   - IgnoreSecurity: do not check that requests carry the credentials the
//     spec asks for (e.g. slack-go sends its token in the form body).
//   - PatchSpec: edit the spec's JSON before it is parsed, for a defect that
//     needs a precise fix (a missing status, a field the API sends as null).
//
// Specs may be OpenAPI 3.0 or 3.1: kin-openapi v0.153.0 parses 3.1 documents
// (type arrays such as ["string", "null"] included) and validates them with
// its JSON Schema 2020-12 validator, so no pre-processing is needed.
//
// The package is test support: the specs are test data and are never loaded
// by the product at run time.
package apicontract
