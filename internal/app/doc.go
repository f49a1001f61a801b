// Package app wires Mercato together: profile -> adapters -> services ->
// roles. Each role, and each thing roles share (the store, the bus, the
// price book, ...), is a module (roles.go); New builds the modules the
// configured roles need, each once and in dependency order, and Close
// stops them in reverse (modules.go). It holds no business logic.
package app
