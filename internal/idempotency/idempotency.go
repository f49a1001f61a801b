// Package idempotency gives unsafe API calls Stripe's idempotency-key
// semantics: the first request with a key runs; a retry with the same body
// gets the first response byte for byte; the same key with another body is
// refused; a duplicate while the first is running is told so.
package idempotency

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"time"
)

// Outcome is what Begin decided for a request.
type Outcome int

// Outcomes.
const (
	// Run: the key is new (or expired); this request runs.
	Run Outcome = iota
	// Replay: the key finished; answer with the stored status and body.
	Replay
	// Conflict: the key was used with another request body.
	Conflict
	// InProgress: the first request with this key is still running.
	InProgress
	// Resume: the first request died mid-way (its lease ran out); this
	// request takes over and should finish the work for ResourceID, if any.
	Resume
)

// Record is Begin's answer.
type Record struct {
	Outcome    Outcome
	Status     int
	Body       []byte
	ResourceID string
}

// Store persists keys.
type Store interface {
	// Begin claims scope/key for a request whose body hashes to hash. A key
	// older than ttl is forgotten; an unfinished claim older than lease may
	// be taken over.
	Begin(ctx context.Context, scope, key, hash string, now time.Time, ttl, lease time.Duration) (Record, error)
	// Finish stores the response a retry will get.
	Finish(ctx context.Context, scope, key string, status int, body []byte) error
	// Forget drops an unfinished claim whose request failed in a way a
	// retry may fix (a 5xx), so the retry runs again; but only a claim that
	// names no resource, or names resourceID (work the caller knows left
	// nothing behind, such as an order whose payment failed). A claim that
	// names other work (an order that may be charged, or another request's
	// deferred claim) stays, and a retry resumes that work.
	Forget(ctx context.Context, scope, key, resourceID string) error
}

// Deferred is an optional capability of a Store whose keys live in the same
// database as the work they guard: instead of claiming a new key in a
// transaction of its own (Begin), the request hands a Claim to the
// transaction that starts its work, which inserts the key in flight beside
// the work, or fails with ErrTaken and writes nothing when another request
// holds the key. A request then costs one durable write fewer.
type Deferred interface {
	// Settle stores the response of a request that ended before its work
	// wrote the claim (a 4xx such as an unknown SKU or no stock) and
	// reports whether it did. If the key has a row already (used before,
	// or claimed by another request meanwhile), that row is left alone
	// and written is false.
	Settle(ctx context.Context, scope, key string, c Claim, status int, body []byte) (written bool, err error)
}

// Claim is what a deferred claim writes: the request's hash and the key's
// lifetime.
type Claim struct {
	Hash    string
	At      time.Time
	Expires time.Time
}

// ErrTaken is returned by a transaction whose deferred claim found the key
// already held; the transaction wrote nothing.
var ErrTaken = errors.New("idempotency key held by another request")

// Hash fingerprints a request: method, path and exact body bytes.
func Hash(method, path string, body []byte) string {
	h := sha256.New()
	h.Write([]byte(method))
	h.Write([]byte{0})
	h.Write([]byte(path))
	h.Write([]byte{0})
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}
