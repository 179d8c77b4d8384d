// A Go program for the .gopclntab tests and the agent's Go e2e test. It burns CPU for the
// given duration (default 2s) in hotLoop (which inlines middle, inner and (*acc).mix) and
// coldLoop. With FIRN_GO_CPUPROFILE=<file> it also writes its own CPU profile: the Go runtime's
// names, file:line and inline chains for the sampled addresses, the reference the .gopclntab
// reader is checked against.
package main

import (
	"fmt"
	"os"
	"runtime/pprof"
	"time"
)

type acc struct{ v uint64 }

func (a *acc) mix(x uint64) { a.v = a.v*31 + x ^ (a.v >> 7) }

func inner(x uint64) uint64 { return x*x + 3 }

func middle(a *acc, x uint64) { a.mix(inner(x)) }

//go:noinline
func hotLoop(n int) uint64 {
	a := &acc{}
	for i := 0; i < n; i++ {
		middle(a, uint64(i))
	}
	return a.v
}

//go:noinline
func coldLoop(n int) uint64 {
	var s uint64
	for i := 0; i < n; i++ {
		s += uint64(i) * 7
	}
	return s
}

func main() {
	d := 2 * time.Second
	if len(os.Args) > 1 {
		if v, err := time.ParseDuration(os.Args[1]); err == nil {
			d = v
		}
	}
	if path := os.Getenv("FIRN_GO_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			panic(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			panic(err)
		}
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
	end := time.Now().Add(d)
	var s uint64
	for time.Now().Before(end) {
		s += hotLoop(3_000_000) + coldLoop(1_000_000)
	}
	fmt.Println(s)
}
