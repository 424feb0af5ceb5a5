// Command hookctl is a toolkit for Microsoft Graph change notifications and
// Microsoft Teams outgoing webhooks.
package main

import (
	"os"
	"runtime/pprof"

	"github.com/hookctl/hookctl/cmd"
)

func main() {
	if p := os.Getenv("HOOKCTL_CPUPROFILE"); p != "" {
		f, _ := os.Create(p + "." + os.Args[1])
		pprof.StartCPUProfile(f)
		code := cmd.Execute()
		pprof.StopCPUProfile()
		f.Close()
		os.Exit(code)
	}
	os.Exit(cmd.Execute())
}
