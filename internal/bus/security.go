package bus

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/oauth"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// SASL mechanisms Mercato's clients speak.
const (
	SASLPlain       = "PLAIN"
	SASLScramSHA256 = "SCRAM-SHA-256"
	SASLScramSHA512 = "SCRAM-SHA-512"
	SASLOAuthBearer = "OAUTHBEARER"
)

// Security is how a client proves who it is to a secured Kafka cluster and
// how it checks the brokers. The zero value is plaintext without SASL.
type Security struct {
	// TLS turns on TLS; any of the TLS fields below turns it on as well.
	TLS bool
	// CAFile is a PEM bundle of the CAs that signed the brokers'
	// certificates; empty trusts the system roots.
	CAFile string
	// CertFile and KeyFile are the client's certificate and key (PEM), for
	// brokers that require mutual TLS. Both or neither.
	CertFile, KeyFile string
	// ServerName overrides the name the brokers' certificates are checked
	// against (by default each broker's host).
	ServerName string
	// InsecureSkipVerify accepts any broker certificate. For tests only:
	// it leaves the connection open to a man in the middle.
	InsecureSkipVerify bool

	// SASLMechanism is empty (no SASL), PLAIN, SCRAM-SHA-256, SCRAM-SHA-512
	// or OAUTHBEARER.
	SASLMechanism string
	// Username and Password are for PLAIN and SCRAM.
	Username, Password string
	// OAuthTokenFile holds the OAUTHBEARER token. It is read at every
	// authentication, so a token rotated on disk is picked up by the next
	// connection.
	OAuthTokenFile string
}

// tlsOn reports whether any TLS setting asks for TLS.
func (s Security) tlsOn() bool {
	return s.TLS || s.CAFile != "" || s.CertFile != "" || s.KeyFile != "" || s.ServerName != "" || s.InsecureSkipVerify
}

// String says how a client connects, without the password, for errors
// and logs.
func (s Security) String() string {
	out := "plaintext"
	if s.tlsOn() {
		out = "TLS"
	}
	switch m := strings.ToUpper(s.SASLMechanism); m {
	case "":
		return out + ", no SASL"
	case SASLOAuthBearer:
		return out + ", SASL " + m
	default:
		return fmt.Sprintf("%s, SASL %s as %q", out, m, s.Username)
	}
}

// connError adds to a failed request what the client tried, and what a
// connection closed by the broker most likely means: brokers close the
// connection of a client whose credentials they reject, or that speaks
// plaintext to a TLS listener.
func (s Security) connError(what string, err error) error {
	var firstRead *kgo.ErrFirstReadEOF // franz-go already explains a missing TLS
	if !errors.As(err, &firstRead) && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)) {
		return fmt.Errorf("%s (%s): the broker closed the connection; check the SASL credentials and whether it expects TLS: %w", what, s, err)
	}
	return fmt.Errorf("%s (%s): %w", what, s, err)
}

// ClientOpts turns s into franz-go client options, for Mercato's clients
// and for those it does not wrap (admin tools, test readers). It reads the
// certificate files now, so a wrong path fails at start rather than at the
// first connection. Errors name files and mechanisms, never the password.
func (s Security) ClientOpts() ([]kgo.Opt, error) {
	var opts []kgo.Opt
	if s.tlsOn() {
		tc, err := s.tlsConfig()
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	mech, err := s.mechanism()
	if err != nil {
		return nil, err
	}
	if mech != nil {
		opts = append(opts, kgo.SASL(mech))
	}
	return opts, nil
}

func (s Security) tlsConfig() (*tls.Config, error) {
	tc := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         s.ServerName,
		InsecureSkipVerify: s.InsecureSkipVerify, //nolint:gosec // documented as tests-only
	}
	if s.CAFile != "" {
		pem, err := os.ReadFile(s.CAFile)
		if err != nil {
			return nil, fmt.Errorf("reading Kafka TLS CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("bus: Kafka TLS CA file %s holds no PEM certificate", s.CAFile)
		}
		tc.RootCAs = pool
	}
	if (s.CertFile == "") != (s.KeyFile == "") {
		return nil, errors.New("bus: Kafka TLS client certificate and key files go together: set both or neither")
	}
	if s.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(s.CertFile, s.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("loading Kafka TLS client certificate %s and key %s: %w", s.CertFile, s.KeyFile, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

func (s Security) mechanism() (sasl.Mechanism, error) {
	m := strings.ToUpper(s.SASLMechanism)
	switch m {
	case "":
		return nil, nil
	case SASLPlain, SASLScramSHA256, SASLScramSHA512:
		if s.Username == "" || s.Password == "" {
			return nil, fmt.Errorf("bus: Kafka SASL %s needs a username and a password", m)
		}
	case SASLOAuthBearer:
		if s.OAuthTokenFile == "" {
			return nil, errors.New("bus: Kafka SASL OAUTHBEARER needs a token file")
		}
		if _, err := readToken(s.OAuthTokenFile); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("unknown Kafka SASL mechanism %q (want PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER)", s.SASLMechanism)
	}
	switch m {
	case SASLPlain:
		return plain.Auth{User: s.Username, Pass: s.Password}.AsMechanism(), nil
	case SASLScramSHA256:
		return scram.Auth{User: s.Username, Pass: s.Password}.AsSha256Mechanism(), nil
	case SASLScramSHA512:
		return scram.Auth{User: s.Username, Pass: s.Password}.AsSha512Mechanism(), nil
	default:
		file := s.OAuthTokenFile
		return oauth.Oauth(func(context.Context) (oauth.Auth, error) {
			tok, err := readToken(file)
			if err != nil {
				return oauth.Auth{}, err
			}
			return oauth.Auth{Token: tok}, nil
		}), nil
	}
}

// readToken reads an OAUTHBEARER token file; the error names the file only.
func readToken(file string) (string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("reading Kafka OAuth token file: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("bus: Kafka OAuth token file %s is empty", file)
	}
	return tok, nil
}
