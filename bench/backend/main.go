// Command backend is the load scripts' upstream: it answers every request
// with 200 and a 100-byte body, like the shared harness's nginx backend,
// and names itself in the X-Backend header (the port it was reached on).
// -addr takes a comma-separated list of addresses to serve at once.
package main

import (
	"flag"
	"log"
	"net"
	"net/http"
	"strings"
)

func main() {
	addrs := flag.String("addr", "127.0.0.1:18080", "listen address(es), comma-separated")
	flag.Parse()
	body := []byte(strings.Repeat("x", 99) + "\n")
	list := strings.Split(*addrs, ",")
	errc := make(chan error, len(list))
	for _, addr := range list {
		_, port, err := net.SplitHostPort(addr)
		if err != nil {
			log.Fatal(err)
		}
		go func() {
			errc <- http.ListenAndServe(addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/plain")
				w.Header().Set("X-Backend", port)
				_, _ = w.Write(body)
			}))
		}()
	}
	log.Fatal(<-errc)
}
