// Package e2e holds the console's end-to-end tests: Playwright (through
// github.com/mxschmitt/playwright-go) drives Debian's Chromium through the
// journeys operators, approvers and admins take, against the real console
// started in-process on 127.0.0.1:0 with a temporary SQLite file and the
// embedded ModelArts simulator.
//
// Run them with `make test-e2e` (which installs Chromium and the Playwright
// driver first when they are missing), or one journey alone with
// `go test ./e2e -run TestSignIn`. A failing journey leaves a screenshot and a
// Playwright trace in e2e/artifacts/<TestName>/. See docs/testing.md.
package e2e
