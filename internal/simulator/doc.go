// Package simulator is an in-memory Huawei Cloud ModelArts DevServer
// ("Lite Server") API for development, demos and tests. It speaks the same
// JSON over HTTP as the cloud for the endpoints the console uses, so the
// console's client (and Huawei's own SDK) can be pointed at it unchanged.
//
// # Endpoints
//
// Under /v1/{project_id}/dev-servers:
//
//	GET    ""                list, paged (limit 0–1024, default 10; offset;
//	                         sort_key createTime|updateTime; sort_dir ASC|DESC)
//	GET    /all              every server on one page
//	GET    /images           images on one page (server_type, flavor_name)
//	GET    /{id}             one server
//	POST   /action           batch START|STOP|REBOOT|CHANGEOS|REINSTALLOS|DELETE
//	PUT    /{id}/start       single-server actions, answering the server
//	PUT    /{id}/stop
//	PUT    /{id}/reboot
//	POST   /{id}/changeos
//	POST   /{id}/reinstallos
//	DELETE /{id}
//
// Anything else is 404 APIGW.0101. Every response carries X-Request-Id (32
// lower-case hex characters); errors have the body {"error_code",
// "error_msg"} (gateway errors also "request_id").
//
// # Fleet
//
// New generates a deterministic fleet from Options.Seed and Options.Servers:
// the same pair always gives the same servers, ids, names, addresses and
// timestamps. docs/simulator.md describes the mix, every choice made where
// Huawei's documentation is silent, and the measured performance.
//
// # Lifecycle
//
// Actions follow modelarts.Eligible and modelarts.Transitions (reference
// §8.2). An accepted action moves each server to its transient state at once
// (update_at = now); after Options.Transition it settles in the success
// state, or in the *_FAILED state for servers listed in
// Faults.FailServers. A successful DELETE removes the server: it vanishes
// from the lists and GET answers 400 ModelArts.6404 "LiteServer instance
// '<id>' not found.". Settling is computed lazily from timestamps against
// Options.Now on every request, so there are no timers and a fake clock makes
// tests exact.
//
// # Batch semantics (all or nothing)
//
// The real API does not document partial failure (reference §9.3), so the
// simulator takes the safe reading: a batch is applied to all its servers or
// to none.
//
//  1. The body is checked with modelarts.BatchRequest.Validate; any problem
//     is 400 ModelArts.0104 with the field-by-field message.
//  2. If any id is unknown: 400 ModelArts.6404 naming the first unknown id.
//  3. For CHANGEOS, the image must exist and be ACTIVE: else 400
//     ModelArts.0104.
//  4. If any server is not eligible (wrong or busy state, OS change or
//     reinstall of a supernode, DELETE of a PRE_PAID server): 400
//     ModelArts.7000 naming the first such server and why, and counting the
//     others.
//  5. For CHANGEOS, the image's server type and architecture must match
//     every server: else 400 ModelArts.0104.
//
// In every error case nothing changes. Otherwise the answer is 200 with the
// page wrapper whose data is exactly the requested servers, in request order,
// in their new transient state (current 1, pages 1, size = total = number of
// servers). The single-server endpoints apply the same rules to one server
// and answer the bare server object.
//
// # Authentication and projects
//
// With Options.AK and Options.SK set, every request must carry a valid
// SDK-HMAC-SHA256 signature (modelarts.VerifySignature: canonical request
// rebuilt from the listed SignedHeaders, exact body bytes, X-Sdk-Date within
// 15 minutes of Options.Now); otherwise 401 APIGW.0301 "Incorrect IAM
// authentication information: verify aksk signature fail". IAM tokens are
// not accepted then. Without keys anything is accepted. With
// Options.ProjectID set, a request whose path project or X-Project-Id header
// names another project gets 403 ModelArts.0103.
//
// # Faults
//
// Faults (at start in Options.Faults, at run time with SetFaults, or one
// request at a time with FailNext) inject latency, 500 ModelArts.0050, 429
// APIGW.0308 with Retry-After, timeouts (the action is applied, the answer
// never comes), dropped connections (nothing applied, no answer), truncated
// 200 bodies (applied) and forced *_FAILED outcomes.
//
// Requests, MutatingRequests and RequestCount let tests prove what was (or
// was not) sent.
package simulator
