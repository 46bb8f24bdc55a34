// Package deploy holds what operators deploy safetynet with: the Dockerfile, the Docker Compose
// file, the Kubernetes manifests (k8s/), the Prometheus scrape configuration and alert rules
// (prometheus/) and the Grafana provisioning and dashboards (grafana/). docs/operations.md
// explains them.
//
// The Go code here only reads those files: Expressions lists every PromQL expression of every
// dashboard panel and alert rule, so that tests can check them against the metrics the service defines and
// evaluate them on a Prometheus scraping the running service. It deploys nothing.
package deploy
