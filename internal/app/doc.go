// Package app wires Mercato together: profile -> adapters -> services ->
// roles. It holds no business logic.
package app
