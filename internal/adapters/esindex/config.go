package esindex

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/mercato-platform/mercato/internal/retry"
)

// Refresh policies for writes (Elasticsearch's refresh parameter).
const (
	RefreshNone    = "false"    // visible after the next periodic refresh (fastest)
	RefreshWaitFor = "wait_for" // Index returns once the reviews are searchable
	RefreshNow     = "true"     // forces a refresh per bulk request (tests only)
)

// Defaults.
const (
	DefaultIndex        = "mercato-reviews"
	DefaultDims         = 256
	DefaultMaxRetries   = 3
	DefaultRetryBackoff = 200 * time.Millisecond
	maxBackoff          = 10 * time.Second
)

// Config configures the adapter. Username, Password and APIKey are secrets:
// Config's LogValue redacts them, and no error the adapter returns carries
// them.
type Config struct {
	// Addresses are the cluster's HTTP endpoints, e.g. http://es1:9200.
	// Credentials written into an address are moved out of it, so they never
	// appear in a URL the transport may print.
	Addresses []string
	// Index is the index name. The index template is named after it and
	// matches it exactly, so several shops or test runs can share a cluster
	// by giving each its own name (e.g. "staging-mercato-reviews").
	Index string
	// APIKey is a base64 "id:key" API key; it wins over basic auth.
	APIKey   string
	Username string
	Password string
	// Dims is the vector length (dense_vector dims); vectors of any other
	// length are refused before they are sent.
	Dims int
	// Shards and Replicas go into the template; 0 leaves the cluster default.
	Shards   int
	Replicas *int
	// Refresh is the write refresh policy: RefreshNone (default),
	// RefreshWaitFor (tests, read-your-writes) or RefreshNow.
	Refresh string
	// MaxRetries is how often a request answered 429/502/503/504, or a bulk
	// item rejected with 429/503, is retried; default 3, negative disables.
	MaxRetries int
	// RetryBackoff is the first retry's delay; it doubles per attempt (with
	// jitter, capped at 10s). Default 200ms.
	RetryBackoff time.Duration
	// BulkDocs caps reviews per bulk request (default 1000), BulkBytes the
	// request size (default 5 MiB), Elasticsearch's sweet spot for one client.
	BulkDocs  int
	BulkBytes int
	// Transport replaces the HTTP transport (TLS settings, tests).
	Transport http.RoundTripper
	Logger    *slog.Logger
}

// LogValue keeps secrets out of logs when a Config is logged.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Any("addresses", redactedAddresses(c.Addresses)),
		slog.String("index", c.Index),
		slog.Bool("api_key", c.APIKey != ""),
		slog.String("username", c.Username),
		slog.Bool("password", c.Password != ""),
		slog.Int("dims", c.Dims),
		slog.String("refresh", c.Refresh),
	)
}

func redactedAddresses(addrs []string) []string {
	out := make([]string, 0, len(addrs))
	for _, a := range addrs {
		u, err := url.Parse(a)
		if err != nil {
			out = append(out, "(invalid)")
			continue
		}
		u.User = nil
		out = append(out, u.String())
	}
	return out
}

func (c *Config) setDefaults() {
	if c.Index == "" {
		c.Index = DefaultIndex
	}
	if c.Dims == 0 {
		c.Dims = DefaultDims
	}
	if c.Refresh == "" {
		c.Refresh = RefreshNone
	}
	if c.MaxRetries == 0 {
		c.MaxRetries = DefaultMaxRetries
	}
	if c.RetryBackoff <= 0 {
		c.RetryBackoff = DefaultRetryBackoff
	}
	if c.BulkDocs <= 0 {
		c.BulkDocs = 1000
	}
	if c.BulkBytes <= 0 {
		c.BulkBytes = 5 << 20
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate reports what is wrong with c (after defaults are applied).
func (c Config) Validate() error {
	var errs []error
	if len(c.Addresses) == 0 {
		errs = append(errs, errors.New("no addresses"))
	}
	if err := validIndexName(c.Index); err != nil {
		errs = append(errs, err)
	}
	// 4096 is Elasticsearch 8's dense_vector limit.
	if c.Dims < 1 || c.Dims > 4096 {
		errs = append(errs, fmt.Errorf("dims %d outside 1..4096", c.Dims))
	}
	switch c.Refresh {
	case RefreshNone, RefreshWaitFor, RefreshNow:
	default:
		errs = append(errs, fmt.Errorf("refresh %q: want %q, %q or %q", c.Refresh, RefreshNone, RefreshWaitFor, RefreshNow))
	}
	if c.Shards < 0 || (c.Replicas != nil && *c.Replicas < 0) {
		errs = append(errs, errors.New("negative shards or replicas"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("elasticsearch config: %w", err)
	}
	return nil
}

// validIndexName applies Elasticsearch's index naming rules, so a bad name
// fails at startup rather than on the first write.
func validIndexName(name string) error {
	switch {
	case name == "", name == ".", name == "..":
		return fmt.Errorf("index name %q invalid", name)
	case len(name) > 255:
		return errors.New("index name longer than 255 bytes")
	case strings.ToLower(name) != name:
		return fmt.Errorf("index name %q must be lowercase", name)
	case strings.ContainsAny(name[:1], "-_+"):
		return fmt.Errorf("index name %q must not start with -, _ or +", name)
	case strings.ContainsAny(name, `\/*?"<>| ,#:`):
		return fmt.Errorf("index name %q contains a character Elasticsearch forbids", name)
	}
	return nil
}

// parseAddresses turns addresses into URLs without user info. Parse errors
// are reported by position only: the raw string may hold a password.
func parseAddresses(addrs []string) (urls []*url.URL, user, pass string, err error) {
	for i, a := range addrs {
		u, perr := url.Parse(strings.TrimSpace(a))
		if perr != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return nil, "", "", fmt.Errorf("elasticsearch config: address %d is not an http(s) URL", i+1)
		}
		if u.User != nil {
			if p, ok := u.User.Password(); ok && user == "" {
				user, pass = u.User.Username(), p
			}
			u.User = nil
		}
		urls = append(urls, u)
	}
	return urls, user, pass, nil
}

// backoff is the delay before retry attempt n (1-based): exponential with
// jitter so many writers rejected together do not return together.
func backoff(base time.Duration, n int) time.Duration {
	return retry.Backoff{First: base, Max: maxBackoff, Jitter: true}.Delay(n)
}
