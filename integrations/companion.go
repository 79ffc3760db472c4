package integrations

// Companion is a service that has no integrations of its own but runs on
// another platform's (twitter-reach on the tenant's twitter integration,
// where crowd.dev needed a microservices row that newer tenants never
// got). Its runs are runs of those integrations, with their own workflow
// id, so they never block nor are blocked by the integration's own run;
// they leave the integration's status alone.
type Companion interface {
	// CompanionOf is the platform whose integrations the service runs on.
	CompanionOf() string
}
