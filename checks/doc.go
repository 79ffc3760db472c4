// Package checks holds the activities of the scheduled IntegrationCheck
// workflow (workflows/check.go): list a platform's done integrations a page
// at a time, and start a check run of one; and the activity of the
// reconciler (workflows/reconcile.go), which asks Temporal about the
// workflow of each run whose row says it is in progress, and ends those no
// workflow runs.
//
// Why a package of its own: starting a run must be exactly what the starter
// and the API do (control.Controller: one run per integration, a running
// onboarding wins, the run row written), and package control imports
// workflows, which imports activities. The start activity therefore cannot
// live in activities (control -> workflows -> activities -> control would be
// a cycle). This package sits above control and workflows; the workflow
// calls its activities by the names workflows declares, and the worker
// registers both with Register.
//
//	checks -> control -> workflows -> activities -> store
//	   \__________________^
package checks
