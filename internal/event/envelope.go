package event

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/oklog/ulid/v2"
)

// SchemaVersion is the envelope schema this build writes and the newest it reads.
const SchemaVersion = 1

// MaxSize bounds an encoded envelope; the broker's default message size is 1 MiB.
const MaxSize = 1 << 20

// Envelope is the record every topic carries. ID is unique per event and
// consumers deduplicate on it; Subject is the Kafka key (a SKU or order id).
type Envelope struct {
	ID            string          `json:"id"`
	Type          string          `json:"type"`
	Source        string          `json:"source"`
	Time          time.Time       `json:"time"`
	Subject       string          `json:"subject"`
	Data          json.RawMessage `json:"data"`
	SchemaVersion int             `json:"schema_version"`
}

// Message is an envelope addressed to a logical topic (see Topic constants).
type Message struct {
	Topic    string
	Envelope Envelope
}

// ErrMalformed is wrapped by every decode failure, so consumers can route the
// record to its dead-letter topic instead of retrying it.
var ErrMalformed = errors.New("malformed event")

// NewID returns a new ULID: unique, and sortable by creation time.
func NewID() string {
	return ulid.MustNew(ulid.Now(), rand.Reader).String()
}

// New builds an envelope with a fresh id. data is marshalled to JSON.
func New(typ, source, subject string, at time.Time, data any) (Envelope, error) {
	raw, err := json.Marshal(data)
	if err != nil {
		return Envelope{}, fmt.Errorf("encoding %s data: %w", typ, err)
	}
	return Envelope{
		ID:            NewID(),
		Type:          typ,
		Source:        source,
		Time:          at.UTC(),
		Subject:       subject,
		Data:          raw,
		SchemaVersion: SchemaVersion,
	}, nil
}

// Encode returns the JSON form of e: the same document json.Marshal makes,
// written directly. Every event crosses here on its way to the outbox, so
// the data is validated and compacted in one pass instead of three.
func (e Envelope) Encode() ([]byte, error) {
	if err := e.validateFields(); err != nil {
		return nil, err
	}
	buf := bytes.NewBuffer(make([]byte, 0, 160+len(e.ID)+len(e.Type)+len(e.Source)+len(e.Subject)+len(e.Data)))
	b := buf.AvailableBuffer()
	b = append(b, `{"id":`...)
	b = appendString(b, e.ID)
	b = append(b, `,"type":`...)
	b = appendString(b, e.Type)
	b = append(b, `,"source":`...)
	b = appendString(b, e.Source)
	b = append(b, `,"time":"`...)
	b, err := e.Time.AppendText(b)
	if err != nil {
		return nil, fmt.Errorf("encoding event %s: time: %w", e.ID, err)
	}
	b = append(b, `","subject":`...)
	b = appendString(b, e.Subject)
	b = append(b, `,"data":`...)
	buf.Write(b)
	if err := json.Compact(buf, e.Data); err != nil || isNull(e.Data) {
		return nil, errNotAValue
	}
	b = buf.AvailableBuffer()
	b = append(b, `,"schema_version":`...)
	b = strconv.AppendInt(b, int64(e.SchemaVersion), 10)
	b = append(b, '}')
	buf.Write(b)
	return buf.Bytes(), nil
}

// appendString appends s as a JSON string. Plain ASCII goes as it is; any
// other string is quoted by encoding/json, so the escaping is always its own.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always marshals
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

func isNull(data []byte) bool { return string(bytes.TrimSpace(data)) == "null" }

// errNotAValue refuses an envelope whose data is missing, null or not JSON.
var errNotAValue = fmt.Errorf("%w: data must be a JSON value", ErrMalformed)

// Validate reports the first missing or out-of-range field.
func (e Envelope) Validate() error {
	if err := e.validateFields(); err != nil {
		return err
	}
	if len(e.Data) == 0 || !json.Valid(e.Data) || isNull(e.Data) {
		return errNotAValue
	}
	return nil
}

// validateFields checks everything but the data.
func (e Envelope) validateFields() error {
	switch {
	case e.ID == "" || len(e.ID) > 128:
		return fmt.Errorf("%w: id must be 1-128 characters", ErrMalformed)
	case e.Type == "" || len(e.Type) > 128:
		return fmt.Errorf("%w: type must be 1-128 characters", ErrMalformed)
	case len(e.Source) > 256:
		return fmt.Errorf("%w: source longer than 256 characters", ErrMalformed)
	case e.Time.IsZero():
		return fmt.Errorf("%w: time is required", ErrMalformed)
	case e.Subject == "" || len(e.Subject) > 256:
		return fmt.Errorf("%w: subject must be 1-256 characters", ErrMalformed)
	case e.SchemaVersion < 1 || e.SchemaVersion > SchemaVersion:
		return fmt.Errorf("%w: schema_version %d not supported (1-%d)", ErrMalformed, e.SchemaVersion, SchemaVersion)
	}
	return nil
}

// Decode parses and validates an envelope received from outside the process.
// Unknown envelope fields are rejected so that a producer's typo is caught at
// the first consumer, not silently dropped.
func Decode(b []byte) (Envelope, error) {
	if len(b) > MaxSize {
		return Envelope{}, fmt.Errorf("%w: %d bytes exceeds %d", ErrMalformed, len(b), MaxSize)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var e Envelope
	if err := dec.Decode(&e); err != nil {
		return Envelope{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if dec.More() {
		return Envelope{}, fmt.Errorf("%w: trailing data after the envelope", ErrMalformed)
	}
	// The decoder has checked the whole document, data included, so only
	// the fields and data's presence are left to check.
	if err := e.validateFields(); err != nil {
		return Envelope{}, err
	}
	if len(e.Data) == 0 || isNull(e.Data) {
		return Envelope{}, errNotAValue
	}
	return e, nil
}

// DecodeData unmarshals the envelope's data into v. Unlike the envelope,
// data is read leniently: fields v does not know are ignored, so producers
// can add fields (a schema_version-compatible change) without breaking
// consumers. Wrong types are still errors.
func (e Envelope) DecodeData(v any) error {
	if err := json.Unmarshal(e.Data, v); err != nil {
		return fmt.Errorf("%w: %s data: %v", ErrMalformed, e.Type, err)
	}
	return nil
}
