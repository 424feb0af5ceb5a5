// Command hookctl is a toolkit for Microsoft Graph change notifications and
// Microsoft Teams outgoing webhooks.
package main

import (
	"os"
	"runtime"
	"runtime/pprof"

	"github.com/hookctl/hookctl/cmd"
)

func main() {
	if p := os.Getenv("HOOKCTL_CPUPROFILE"); p != "" {
		f, _ := os.Create(p + "." + os.Args[1])
		runtime.SetCPUProfileRate(2000)
		pprof.StartCPUProfile(f)
		code := cmd.Execute()
		pprof.StopCPUProfile()
		f.Close()
		h, _ := os.Create(p + "." + os.Args[1] + ".heap")
		pprof.Lookup("allocs").WriteTo(h, 0)
		h.Close()
		os.Exit(code)
	}
	os.Exit(cmd.Execute())
}
