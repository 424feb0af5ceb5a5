package send

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"

	"github.com/spf13/cobra"

	"github.com/hookctl/hookctl/internal/exitcode"
	"github.com/hookctl/hookctl/internal/factory"
	_ "github.com/hookctl/hookctl/internal/golden"
	"github.com/hookctl/hookctl/internal/iostreams"
	"github.com/hookctl/hookctl/internal/logging"
)

// testFactory gives buffer streams, a fake environment and the output mode.
func testFactory(output string, env map[string]string) (f *factory.Factory, stdout, stderr *bytes.Buffer) {
	ios, _, stdout, stderr := iostreams.Test()
	ios.SetWidth(500) // content checks; width_test.go checks the layout at 80 and 120 columns
	return &factory.Factory{
		IOStreams: ios,
		Env:       func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		Version:   "test",
		Output:    output,
		Secrets:   &logging.Secrets{},
	}, stdout, stderr
}

// execute runs cmd with args and returns the exit code and error text.
func execute(cmd *cobra.Command, args ...string) (int, string) {
	cmd.SetArgs(args)
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	err := cmd.Execute()
	if err == nil {
		return exitcode.OK, ""
	}
	return exitcode.Code(err), err.Error()
}

// request is what a test receiver saw on the wire.
type request struct {
	method string
	path   string
	query  url.Values
	header http.Header
	body   []byte
}

// recordingServer is a real HTTP server that records every request and answers with answer.
type recordingServer struct {
	*httptest.Server
	mu       sync.Mutex
	requests []request
}

func newRecordingServer(t *testing.T, answer func(w http.ResponseWriter, r *http.Request, body []byte)) *recordingServer {
	t.Helper()
	rec := &recordingServer{}
	rec.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rec.mu.Lock()
		rec.requests = append(rec.requests, request{method: r.Method, path: r.URL.Path, query: r.URL.Query(), header: r.Header.Clone(), body: body})
		rec.mu.Unlock()
		answer(w, r, body)
	}))
	t.Cleanup(rec.Close)
	return rec
}

func (rec *recordingServer) seen() []request {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]request(nil), rec.requests...)
}

// closedURL is the address of a server that no longer listens.
func closedURL(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := srv.URL
	srv.Close()
	return addr
}
