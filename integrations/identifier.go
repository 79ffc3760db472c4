package integrations

// IdentifierValidator is implemented by services that need the platform's
// id of what is connected (integrations."integrationIdentifier", the
// connect flag --identifier): a bad one is refused at connect, before
// anything is written, instead of failing the first run.
type IdentifierValidator interface {
	ValidateIdentifier(identifier string) error
}
