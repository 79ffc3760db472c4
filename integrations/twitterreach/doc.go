// Package twitterreach is the twitter-reach service: once a day it reads
// the follower count of every member of a tenant who has a Twitter
// identity, and writes members.reach.twitter (total recomputed) where the
// count changed. It writes no activities.
//
// It has no integrations of its own: it runs on the tenant's twitter
// integration (integrations.Companion), whose tokens it shares, for every
// tenant that has one; crowd.dev ran it per microservices row, which newer
// tenants never got. Its runs are rows of "integrationRuns" of that
// integration with service = 'twitter-reach' and workflow id
// integration/<integrationId>/twitter-reach, so they never block, nor are
// blocked by, the integration's own runs, and leave its status alone. A
// package of its own, beside twitter, because it is a service of its own in
// the registry (its own schedule integration-check/twitter-reach, streams
// and config); it uses the twitter package's exported API client.
//
// Streams: chunks of up to 100 usernames (GET /2/users/by takes 100),
// read from the database when the run starts; usernames that cannot be X
// handles are left out. Unknown, suspended and protected users come back
// as partial errors and are skipped. crowd.dev read the count from a
// field v2 does not have (followersCount); this reads
// public_metrics.followers_count.
package twitterreach
