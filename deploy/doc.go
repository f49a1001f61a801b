// Package deploy holds Mercato's deployment files: the container image
// (Dockerfile), the distributed stack for one Docker host (compose.yaml),
// Kubernetes manifests (kubernetes/), Prometheus scrape config and alert
// rules (prometheus/) and a Grafana dashboard (grafana/). It has no Go code;
// its tests check the files against the binary they deploy: flags, metric
// names, probes and rule syntax.
package deploy
