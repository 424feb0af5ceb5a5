package emulator

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hookctl/hookctl/internal/emulator"
	"github.com/hookctl/hookctl/internal/exitcode"
	"github.com/hookctl/hookctl/internal/factory"
	"github.com/hookctl/hookctl/internal/httpclient"
	"github.com/hookctl/hookctl/internal/iostreams"
	"github.com/hookctl/hookctl/pkg/graph"
)

// Control is what the commands that drive a running emulator through its
// control API (send-mail, post-message, create-event, lifecycle) share:
// where the emulator is, how to reach it, and where to print.
type Control struct {
	IO          *iostreams.IOStreams
	HTTPClient  func() (*http.Client, error)
	JSON        func() bool
	EmulatorURL string
}

// newControl is f's Control; EmulatorURL is set from --emulator-url when the
// command runs (emulatorURL).
func newControl(f *factory.Factory) Control {
	return Control{IO: f.IOStreams, HTTPClient: controlHTTPClient(f), JSON: f.JSON}
}

// call POSTs body to the control API's path and decodes a 2xx answer into out.
func (c *Control) call(ctx context.Context, path string, body, out any) error {
	return callControl(ctx, c.HTTPClient, c.EmulatorURL, path, body, out)
}

// create POSTs request to path, which answers with the id of what the
// emulator made, and prints it: one JSON line of type kind (line's fields for
// that id), or for a person the sentence after a check mark, the id in grey.
func (c *Control) create(ctx context.Context, path string, request any, kind string, line func(id string) any, sentence string) error {
	var answer struct {
		ID string `json:"id"`
	}
	if err := c.call(ctx, path, request, &answer); err != nil {
		return err
	}
	if c.JSON() {
		return iostreams.WriteJSONLine(c.IO.Out, kind, line(answer.ID))
	}
	scheme := c.IO.OutScheme()
	_, err := fmt.Fprintln(c.IO.Out, c.IO.Wrap(createdLine(scheme, sentence, answer.ID)))
	return err
}

// createdLine says what the control API made, and its id.
func createdLine(scheme *iostreams.ColorScheme, sentence, id string) string {
	return fmt.Sprintf("%s %s %s", scheme.SuccessIcon(), sentence, scheme.Gray("("+id+")"))
}

// addEmulatorURLFlag adds --emulator-url (HOOKCTL_EMULATOR_URL through the root command).
func addEmulatorURLFlag(cmd *cobra.Command, target *string) {
	cmd.Flags().StringVar(target, "emulator-url", DefaultEmulatorURL, "base URL of the running emulator (when not given: from HOOKCTL_GRAPH_URL)")
}

// graphURLEnv is set by `hookctl emulator env`; the emulator's base URL is
// the Graph URL without /v1.0, so it also finds an emulator on another port.
const graphURLEnv = "HOOKCTL_GRAPH_URL"

// emulatorURL is --emulator-url when given (or set from HOOKCTL_EMULATOR_URL
// or the config file), else HOOKCTL_GRAPH_URL's emulator, else the one
// `hookctl emulator start` runs, else the active profile's, else the default.
func emulatorURL(f *factory.Factory, cmd *cobra.Command, flagValue string) string {
	if cmd.Flags().Changed("emulator-url") {
		return flagValue
	}
	if graphURL, ok := f.Env(graphURLEnv); ok && strings.TrimSpace(graphURL) != "" {
		return graphURL
	}
	// A fresh shell: the emulator running in the background, wherever it listens.
	if settings, ok := runningEmulator(f); ok {
		return settings.URL
	}
	// A fresh shell: the emulator the active profile signed in to.
	if graphURL := f.ProfileEndpoint().GraphURL; graphURL != "" && graphURL != graph.DefaultBaseURL {
		return graphURL
	}
	return flagValue
}

// controlHTTPClient builds, on first use, a client trusting HOOKCTL_CA_FILE,
// or else the CA of the emulator `hookctl emulator start` runs, or else the
// CA the active profile signed in with.
func controlHTTPClient(f *factory.Factory) func() (*http.Client, error) {
	return func() (*http.Client, error) {
		caFile, _ := f.Env(httpclient.CAFileEnv)
		if settings, ok := runningEmulator(f); caFile == "" && ok {
			caFile = settings.CAFile
		}
		if caFile == "" {
			caFile = f.ProfileEndpoint().CAFile
		}
		client, err := httpclient.New(caFile)
		if err != nil {
			return nil, exitcode.Usagef("%v", err)
		}
		client.Timeout = 30 * time.Second
		return client, nil
	}
}

// runningEmulator is the settings of the emulator `hookctl emulator start`
// runs from the default state file, if one runs.
func runningEmulator(f *factory.Factory) (emulator.Settings, bool) {
	rec, err := runFilesFor(stateFile(f, "")).running(context.Background())
	if err != nil {
		return emulator.Settings{}, false
	}
	return rec.Settings, true
}

// controlURL turns what the user gave (the emulator's base URL, or its
// control or Graph URL) into the control API's base URL.
func controlURL(base string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(base))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", exitcode.Usagef("invalid --emulator-url %q: use the emulator's base URL, e.g. %s", base, DefaultEmulatorURL)
	}
	path := strings.TrimRight(u.Path, "/")
	path = strings.TrimSuffix(path, "/_emulator")
	path = strings.TrimSuffix(path, "/v1.0")
	u.Path, u.RawQuery, u.Fragment = path+"/_emulator", "", ""
	return u.String(), nil
}

// callControl POSTs body as JSON to the control API and decodes a 2xx answer into out.
func callControl(ctx context.Context, newClient func() (*http.Client, error), base, path string, body, out any) error {
	endpoint, err := controlURL(base)
	if err != nil {
		return err
	}
	client, err := newClient()
	if err != nil {
		return err
	}
	data, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint+path, bytes.NewReader(data))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		var urlErr *url.Error
		if errors.As(err, &urlErr) {
			err = urlErr.Err
		}
		var unknownCA x509.UnknownAuthorityError
		if errors.As(err, &unknownCA) {
			return fmt.Errorf("cannot reach the emulator at %s: its certificate is not from a CA this command trusts\nSet HOOKCTL_CA_FILE to the caFile the emulator printed (the lines `hookctl emulator env` prints do that)", endpoint)
		}
		return fmt.Errorf("cannot reach the emulator at %s: %v\nStart one with `hookctl emulator start`, or point --emulator-url (HOOKCTL_EMULATOR_URL) and HOOKCTL_CA_FILE at it", endpoint, err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("reading the emulator's answer: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		var graphErr struct {
			Error struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if json.Unmarshal(answer, &graphErr) == nil && graphErr.Error.Message != "" {
			err := fmt.Errorf("the emulator refused (%d %s): %s", resp.StatusCode, graphErr.Error.Code, graphErr.Error.Message)
			if resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusNotFound {
				return exitcode.New(exitcode.Usage, err)
			}
			return err
		}
		return fmt.Errorf("the emulator answered %s to POST %s: is %s a hookctl emulator?", resp.Status, path, endpoint)
	}
	if err := json.Unmarshal(answer, out); err != nil {
		return fmt.Errorf("the emulator's answer is not what hookctl expects (%v): are hookctl and the emulator the same version?", err)
	}
	return nil
}
