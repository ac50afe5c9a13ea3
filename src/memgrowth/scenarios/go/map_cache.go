// A leak: a request handler caches every response in a map that is never evicted.
// Ground truth: leak, held by the map `cache`, allocated in handle().
package main

import (
	_ "expvar"
	"flag"
	"fmt"
	"net/http"
	_ "net/http/pprof"
	"os"
	"strings"
	"time"
)

var cache = map[string][]byte{}

// sink keeps the compiler from putting the short-lived buffer on the stack.
var sink []byte

func handle(id int) {
	key := fmt.Sprintf("session-%d", id)
	cache[key] = []byte(strings.Repeat("x", 1024)) // never evicted: the leak
	sink = make([]byte, 32*1024)                   // ordinary short-lived work: garbage at once
}

func main() {
	seconds := flag.Float64("seconds", 3600, "how long to run")
	rate := flag.Int("rate", 2000, "requests per second")
	listen := flag.String("listen", "", "serve /debug/pprof and /debug/vars on this address")
	flag.Parse()
	if *listen != "" {
		go func() { fmt.Fprintln(os.Stderr, http.ListenAndServe(*listen, nil)) }()
	}
	deadline := time.Now().Add(time.Duration(*seconds * float64(time.Second)))
	id := 0
	for time.Now().Before(deadline) {
		for i := 0; i < *rate/20; i++ {
			handle(id)
			id++
		}
		time.Sleep(50 * time.Millisecond)
	}
}
