// An allocation-heavy Go loop for the Go probe's overhead: it serves /debug/pprof and
// /debug/vars (so memgrowth polls them) and prints how many operations per second it did.
package main

import (
	_ "expvar"
	"flag"
	"fmt"
	"net/http"
	_ "net/http/pprof"
	"os"
	"time"
)

var keep [][]byte
var sink []byte

func main() {
	seconds := flag.Float64("seconds", 10, "how long to run")
	listen := flag.String("listen", "", "serve /debug/pprof and /debug/vars here")
	flag.Parse()
	if *listen != "" {
		go func() { fmt.Fprintln(os.Stderr, http.ListenAndServe(*listen, nil)) }()
		time.Sleep(200 * time.Millisecond)
	}
	deadline := time.Now().Add(time.Duration(*seconds * float64(time.Second)))
	started := time.Now()
	ops := 0
	for time.Now().Before(deadline) {
		for i := 0; i < 1000; i++ {
			sink = make([]byte, 512)
			if ops%100 == 0 {
				keep = append(keep, make([]byte, 256)) // a slowly growing heap to profile
			}
			ops++
		}
	}
	fmt.Printf("%.1f\n", float64(ops)/time.Since(started).Seconds())
}
