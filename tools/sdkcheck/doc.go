// Package sdkcheck holds no production code: its tests check the console's
// ModelArts simulator and AK/SK signer against Huawei's official Go SDK
// (github.com/huaweicloud/huaweicloud-sdk-go-v3 v0.1.207, the only version
// on the module proxy with services/modelarts).
//
// It is a separate Go module so that the console's own go.mod never pulls in
// the SDK (a 45 MiB download). Its module path sits under the console's, so
// Go lets it import the console's internal packages (the internal rule is
// checked on import paths), and go.mod points the console module at ../..
// with a replace directive.
//
// Run it with `make sdk-check` from the repository root, or
// `cd tools/sdkcheck && go test -count=1 ./...`.
package sdkcheck
