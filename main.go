// Command hookctl is a toolkit for Microsoft Graph change notifications and
// Microsoft Teams outgoing webhooks.
package main

import (
	"os"

	"github.com/hookctl/hookctl/cmd"
)

func main() {
	os.Exit(cmd.Execute())
}
