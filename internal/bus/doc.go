// Package bus is Mercato's one Kafka code path (franz-go): the embedded
// Kafka-protocol broker, topic creation, an idempotent producer, a
// consumer-group runner that commits only after its handler succeeded and
// dead-letters poison records, a transactional consume-transform-produce
// loop for processors that need exactly-once, and readers of given
// partitions from given offsets outside any group (tables, Follow,
// ReadRange). The same code talks to a real Kafka cluster; only the seed
// brokers and the Security settings (TLS, SASL), which every client the
// package opens uses, differ.
package bus
