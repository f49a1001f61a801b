// Package web holds the operator console's static assets, embedded in the
// binary: index.html, console.js and console.css, and the pinned npm
// packages they use (static/vendor, copied by `make web-vendor` from the
// versions in package.json, each with its licence).
package web

import "embed"

// Static is the console: plain HTML and JavaScript that reads the JSON API
// and the live event stream.
//
//go:embed static
var Static embed.FS
