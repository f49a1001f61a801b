// Package testenv starts the servers Mercato's tests need — the embedded
// Kafka broker, redis-server and PostgreSQL — on free loopback ports in
// temporary directories, and stops them afterwards. When a server binary is
// missing the test is skipped with a loud message, unless CI is set: then it
// fails, so a CI run can never pass by skipping.
package testenv
