package login

import (
	"os/exec"
	"runtime"

	"github.com/hookctl/hookctl/internal/iostreams"
)

// The sentences that come before the sign-in URL (which has a line of its own).
const (
	openThisURL    = "Open this URL in a browser on this machine to sign in (it returns to localhost; from another machine, use `hookctl login` without --browser):"
	openingBrowser = "Opening the sign-in page in your browser. If it does not open, visit:"
)

// noBrowser says why --browser fell back to the device code flow.
const noBrowser = "No browser and no terminal here: signing in with a device code instead"

// pickOpener decides how --browser shows the sign-in page: the system browser
// when there is a display, the URL on stderr when there is a terminal to read
// it on, and otherwise nothing (browser false: use the device code flow).
func pickOpener(io *iostreams.IOStreams, env func(string) (string, bool)) (open func(string) error, browser bool) {
	printURL := func(url string) error {
		io.Note(openThisURL + "\n  " + url)
		return nil
	}
	if command := browserCommand(env); command != nil {
		return func(url string) error {
			cmd := exec.Command(command[0], append(command[1:], url)...)
			if err := cmd.Start(); err != nil {
				return printURL(url)
			}
			// The opener may start no browser at all (a forwarded X display,
			// a missing handler): the URL lets the person carry on anyway.
			io.Note(openingBrowser + "\n  " + url)
			go func() { _ = cmd.Wait() }() // reap it; the browser outlives us
			return nil
		}, true
	}
	if io.IsStderrTTY() {
		return printURL, true
	}
	return nil, false
}

// browserCommand is the command that opens a URL, or nil without a display.
func browserCommand(env func(string) (string, bool)) []string {
	switch runtime.GOOS {
	case "darwin":
		return []string{"open"}
	case "windows":
		return []string{"rundll32", "url.dll,FileProtocolHandler"}
	}
	display, _ := env("DISPLAY")
	wayland, _ := env("WAYLAND_DISPLAY")
	if display == "" && wayland == "" {
		return nil
	}
	if _, err := exec.LookPath("xdg-open"); err != nil {
		return nil
	}
	return []string{"xdg-open"}
}
