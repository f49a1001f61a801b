// Package web holds the dashboard's static assets, embedded in the binary.
package web

import "embed"

// Static is the dashboard: plain HTML and JavaScript that reads the JSON API.
//
//go:embed static
var Static embed.FS
