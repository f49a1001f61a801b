// Package config holds Mercato's settings: flags, MERCATO_* environment
// variables and an optional YAML file, merged in that order of precedence and
// validated before anything starts.
package config
