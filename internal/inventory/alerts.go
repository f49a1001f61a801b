package inventory

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/mercato-platform/mercato/internal/event"
)

// PermanentError marks a webhook failure that retrying cannot fix.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// Webhook POSTs alert events to an operator's URL. It runs in the
// inventory-alerts role, off the order path: a slow or failing endpoint
// delays only alert delivery, which the consumer retries with backoff.
type Webhook struct {
	URL    string
	Client *http.Client
}

// Deliver sends one alert event. 5xx, 408, 429 and network errors are
// transient; other 4xx are permanent (the record goes to the dead-letter topic).
func (w *Webhook) Deliver(ctx context.Context, env event.Envelope) error {
	body, err := env.Encode()
	if err != nil {
		return &PermanentError{Err: err}
	}
	client := w.Client
	if client == nil {
		client = &http.Client{Timeout: 5 * time.Second}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return &PermanentError{Err: fmt.Errorf("building webhook request: %w", err)}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Mercato-Event-Id", env.ID)
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("posting alert %s: %w", env.ID, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	switch {
	case resp.StatusCode < 300:
		return nil
	case resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return fmt.Errorf("alert webhook answered %d", resp.StatusCode)
	default:
		return &PermanentError{Err: fmt.Errorf("alert webhook refused alert %s with %d", env.ID, resp.StatusCode)}
	}
}
