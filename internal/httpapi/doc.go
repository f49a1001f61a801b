// Package httpapi is Mercato's HTTP API: routes, JSON decoding with strict
// limits, the error shape {"error":{"code","message"}}, admin and customer
// authentication, Prometheus metrics per route, and the OpenAPI document,
// which is generated from the same route table the mux serves so the two
// cannot drift apart.
package httpapi
