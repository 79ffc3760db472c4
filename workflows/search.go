package workflows

import (
	"context"
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
)

// Search attributes of a run's workflow, so that "all stuck Slack runs" is
// one query in Temporal Web: Platform = "slack" AND ExecutionStatus = "Running".
var (
	SearchIntegrationID = temporal.NewSearchAttributeKeyKeyword("IntegrationId")
	SearchTenantID      = temporal.NewSearchAttributeKeyKeyword("TenantId")
	SearchPlatform      = temporal.NewSearchAttributeKeyKeyword("Platform")
	SearchOnboarding    = temporal.NewSearchAttributeKeyBool("Onboarding")
)

// SearchAttributes are the values a run's workflow is started with.
func SearchAttributes(in RunInput) temporal.SearchAttributes {
	return temporal.NewSearchAttributes(
		SearchIntegrationID.ValueSet(in.IntegrationID),
		SearchTenantID.ValueSet(in.TenantID),
		SearchPlatform.ValueSet(in.Platform),
		SearchOnboarding.ValueSet(in.Onboarding),
	)
}

// EnsureSearchAttributes registers the custom search attributes on the
// namespace, adding only the missing ones (safe to call at every start).
func EnsureSearchAttributes(ctx context.Context, c client.Client, namespace string) error {
	want := map[string]enumspb.IndexedValueType{
		SearchIntegrationID.GetName(): enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		SearchTenantID.GetName():      enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		SearchPlatform.GetName():      enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		SearchOnboarding.GetName():    enumspb.INDEXED_VALUE_TYPE_BOOL,
	}
	have, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return fmt.Errorf("list search attributes: %w", err)
	}
	missing := map[string]enumspb.IndexedValueType{}
	for name, typ := range want {
		if _, ok := have.GetCustomAttributes()[name]; !ok {
			missing[name] = typ
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if _, err := c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace: namespace, SearchAttributes: missing,
	}); err != nil {
		return fmt.Errorf("register search attributes: %w", err)
	}
	return nil
}
