package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// benchWatchers are live event streams (GET /v1/events/stream, every
// topic, as the admin, sampled as the console asks unless sample is 0)
// held open during a benchmark, as open console tabs would be. A stream
// the server drops as too slow reconnects with its Last-Event-ID, like a
// browser.
type benchWatchers struct {
	n, sample int
	// seen counts each stream's events (resets included) as they arrive,
	// one padded counter per stream so streams do not share a cache line;
	// stop waits on them for the events still on their way.
	seen       []streamCount
	skipped    atomic.Int64 // events a sampled stream counted instead
	reconnects atomic.Int64
	failures   atomic.Int64 // connects that did not get a stream
	ready      sync.WaitGroup
	wg         sync.WaitGroup
	cancel     context.CancelFunc
}

// startWatchers opens n streams on base and waits until each has started
// (at most 10 s, then it reports the ones that have not).
func startWatchers(ctx context.Context, base, token string, n, sample int) (*benchWatchers, error) {
	ctx, cancel := context.WithCancel(ctx)
	w := &benchWatchers{n: n, sample: sample, cancel: cancel, seen: make([]streamCount, n)}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n}}
	w.ready.Add(n)
	for i := range n {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			w.watch(ctx, client, base, token, &w.seen[i].Int64)
		}()
	}
	started := make(chan struct{})
	go func() { w.ready.Wait(); close(started) }()
	select {
	case <-started:
		return w, nil
	case <-time.After(10 * time.Second):
		w.stop()
		return nil, fmt.Errorf("watchers: not all %d event streams started within 10 s (%d failed connects)", n, w.failures.Load())
	}
}

// watch keeps one stream open until ctx ends.
func (w *benchWatchers) watch(ctx context.Context, client *http.Client, base, token string, seen *atomic.Int64) {
	var lastID string
	first := true
	for ctx.Err() == nil {
		err := w.read(ctx, client, base, token, &lastID, seen, func() {
			if first {
				first = false
				w.ready.Done()
			}
		})
		if ctx.Err() != nil {
			break
		}
		if err != nil {
			w.failures.Add(1)
		} else {
			w.reconnects.Add(1)
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
	if first {
		w.ready.Done()
	}
}

// read follows one connection until it ends; started runs once the
// server answered with a stream.
func (w *benchWatchers) read(ctx context.Context, client *http.Client, base, token string, lastID *string, seen *atomic.Int64, started func()) error {
	url := base + "/v1/events/stream"
	if w.sample > 0 {
		url += "?sample=" + strconv.Itoa(w.sample)
	}
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if *lastID != "" {
		req.Header.Set("Last-Event-ID", *lastID)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /v1/events/stream answered %d", resp.StatusCode)
	}
	started()
	br := bufio.NewReaderSize(resp.Body, 64<<10)
	// Skipped events are counted locally: 200 streams adding to one shared
	// counter would fight over its cache line and slow the server they
	// measure (seen is this stream's own).
	var skipped int64
	var id []byte
	counts := false // the next data line is a skipped event's counts
	defer func() { w.skipped.Add(skipped) }()
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A long data line: the rest of it says nothing the count needs.
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = br.ReadSlice('\n')
			}
			continue
		}
		if err != nil {
			return nil // the server closed the stream (or ctx ended)
		}
		switch {
		case bytes.HasPrefix(line, []byte("id: ")):
			id = append(id[:0], bytes.TrimRight(line[len("id: "):], "\r\n")...)
		case bytes.Equal(line, []byte("event: skipped\n")):
			counts = true
		case bytes.HasPrefix(line, []byte("event: ")):
			seen.Add(1)
		case counts && bytes.HasPrefix(line, []byte("data: ")):
			counts = false
			var m map[string]int64
			if json.Unmarshal(line[len("data: "):], &m) == nil {
				for _, k := range m {
					skipped += k
				}
			}
		case len(line) <= 2 && len(id) > 0:
			// The end of an event: its id is where a reconnect resumes.
			*lastID = string(id)
			id = id[:0]
		}
	}
}

// stop closes every stream and waits for them, once the events the run
// wrote have had time to arrive (the relay and the live feed pass them on
// a moment after their orders were answered): when no stream has received
// anything for drainIdle, or after drainMax.
func (w *benchWatchers) stop() {
	const drainIdle, drainMax = time.Second, 10 * time.Second
	last, quiet := w.received(), time.Now()
	for deadline := time.Now().Add(drainMax); time.Now().Before(deadline) && time.Since(quiet) < drainIdle; {
		time.Sleep(100 * time.Millisecond)
		if n := w.received(); n != last {
			last, quiet = n, time.Now()
		}
	}
	w.cancel()
	w.wg.Wait()
}

// received is the events every stream has received.
func (w *benchWatchers) received() (n int64) {
	for i := range w.seen {
		n += w.seen[i].Load()
	}
	return n
}

// streamCount is one stream's counter, alone on its cache line.
type streamCount struct {
	atomic.Int64
	_ [56]byte
}

func (w *benchWatchers) String() string {
	return fmt.Sprintf("watchers: %d event streams (sample %d) received %d events and %d counted as skipped (%d reconnects after the server dropped a stream, %d failed connects)",
		w.n, w.sample, w.received(), w.skipped.Load(), w.reconnects.Load(), w.failures.Load())
}
