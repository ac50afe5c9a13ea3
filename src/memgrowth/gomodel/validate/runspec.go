// Runs a memgrowth workload spec on the real Go runtime and prints what the runtime did, as
// JSON: num_gc, peak_heap_alloc_bytes (runtime/metrics heap objects, sampled every 256 KiB
// allocated), total_alloc_bytes, final_heap_alloc_bytes, heap_objects. GOGC and GOMEMLIMIT
// come from the environment, as for any Go program.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"unsafe"
)

type phase struct {
	Allocs   int64           `json:"allocs"`
	Size     int64           `json:"size"`
	Retain   json.RawMessage `json:"retain"`
	Pointers bool            `json:"pointers"`
}

type spec struct {
	Phases []phase `json:"phases"`
}

var sink unsafe.Pointer

func allocate(size int64, pointers bool) unsafe.Pointer {
	if pointers {
		s := make([]*byte, (size+7)/8)
		return unsafe.Pointer(&s[0])
	}
	s := make([]byte, size)
	return unsafe.Pointer(&s[0])
}

func main() {
	var s spec
	if err := json.Unmarshal([]byte(os.Args[1]), &s); err != nil {
		fmt.Fprintln(os.Stderr, "bad spec:", err)
		os.Exit(2)
	}
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	var peak uint64
	var sinceSample int64
	var kept [][]unsafe.Pointer
	runtime.GC()
	var start runtime.MemStats
	runtime.ReadMemStats(&start)
	for _, p := range s.Phases {
		var holder []unsafe.Pointer
		mode, ring := "none", int64(0)
		var r struct{ Ring int64 }
		if json.Unmarshal(p.Retain, &r) == nil && r.Ring > 0 {
			mode, ring = "ring", r.Ring
			holder = make([]unsafe.Pointer, ring)
		} else if string(p.Retain) == `"all"` {
			mode = "all"
			holder = make([]unsafe.Pointer, p.Allocs)
		}
		for i := int64(0); i < p.Allocs; i++ {
			obj := allocate(p.Size, p.Pointers)
			switch mode {
			case "none":
				sink = obj
			case "ring":
				holder[i%ring] = obj
			case "all":
				holder[i] = obj
			}
			sinceSample += p.Size
			if sinceSample >= 256<<10 {
				sinceSample = 0
				metrics.Read(sample)
				if v := sample[0].Value.Uint64(); v > peak {
					peak = v
				}
			}
		}
		kept = append(kept, holder)
	}
	var end runtime.MemStats
	runtime.ReadMemStats(&end)
	metrics.Read(sample)
	if v := sample[0].Value.Uint64(); v > peak {
		peak = v
	}
	out, _ := json.Marshal(map[string]any{
		"num_gc":                 end.NumGC - start.NumGC,
		"peak_heap_alloc_bytes":  peak,
		"total_alloc_bytes":      end.TotalAlloc - start.TotalAlloc,
		"final_heap_alloc_bytes": end.HeapAlloc,
		"heap_objects":           end.HeapObjects,
	})
	fmt.Println(string(out))
	runtime.KeepAlive(kept)
}
