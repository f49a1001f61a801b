// Package livefeed is the live event stream behind GET /v1/events/stream:
// one Hub per process reads Mercato's topics once, outside any consumer
// group, and fans every event out to its subscribers, each with a bounded
// buffer. A subscriber that cannot keep up is dropped rather than slowing
// the others; it reconnects with its cursor.
//
// A cursor is Kafka positions (the next offset of every partition of the
// subscribed topics), so it is valid on every api process of a cluster. A
// reconnect with a cursor replays what came after it, from the hub's ring
// of recent events when that covers the gap, else from the topics
// themselves, and then goes on live: nothing missed, nothing twice. A gap
// of more than Options.MaxReplay events is not replayed: the stream starts
// with a reset event instead, telling the client to reload its state.
package livefeed
