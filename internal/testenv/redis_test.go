package testenv

import "testing"

// A TLS-only server answers over TLS with the generated CA and client
// certificate, and not in plaintext; a password-protected one is alive
// before anyone authenticates.
func TestStartRedisSecured(t *testing.T) {
	t.Parallel()
	s := StartRedis(t, RedisOptions{TLS: true, TLSClientAuth: true})
	if err := redisAlive(s.Addr, s.ClientTLS(t)); err != nil {
		t.Fatalf("TLS PING: %v", err)
	}
	if err := redisAlive(s.Addr, nil); err == nil {
		t.Fatal("a TLS-only server answered in plaintext")
	}
	noCert := s.ClientTLS(t)
	noCert.Certificates = nil
	if err := redisAlive(s.Addr, noCert); err == nil {
		t.Fatal("a server requiring client certificates answered without one")
	}
	pw := StartRedis(t, RedisOptions{RequirePass: "pw", Users: []string{"mercato on >secret ~* +@all"}})
	if err := redisPing(pw.Addr); err == nil {
		t.Fatal("PING without the password succeeded")
	}
}
