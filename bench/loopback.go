package bench

import (
	"net"
	"net/url"
	"strings"

	"github.com/loopml/loopml"
)

// CheckLoopback returns nil if rawURL is an http(s) URL whose host is a
// loopback address: localhost, 127.0.0.0/8 or ::1. Anything else is
// refused with EINVALID: a load test writes millions of rows and gigabytes
// of artifacts, and must never be aimed at a shared or production server by
// a typo, nor measure the network instead of the server.
func CheckLoopback(rawURL string) error {
	if rawURL == "" {
		return loopml.Errorf(loopml.EINVALID, "url is required (e.g. http://127.0.0.1:5000)")
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return loopml.Errorf(loopml.EINVALID, "url %q is not a valid URL: %v", rawURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return loopml.Errorf(loopml.EINVALID, "url %q: scheme must be http or https", rawURL)
	}
	host := u.Hostname()
	if host == "" {
		return loopml.Errorf(loopml.EINVALID, "url %q has no host", rawURL)
	}
	if !isLoopbackHost(host) {
		return loopml.Errorf(loopml.EINVALID, "url %q: refusing to load-test non-loopback host %q; the benchmark writes millions of rows and gigabytes of artifacts, so it only targets servers on this machine (localhost, 127.0.0.0/8, ::1)", rawURL, host)
	}
	return nil
}

func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return false
	}
	if v4 := ip.To4(); v4 != nil {
		return v4[0] == 127
	}
	return ip.Equal(net.IPv6loopback)
}
