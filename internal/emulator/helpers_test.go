package emulator_test

import (
	"html"
	"net/url"
	"regexp"
	"testing"
)

var hiddenInput = regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)"/>`)

// parseFormPost reads the fields of the authorize endpoint's auto-submitting form.
func parseFormPost(t *testing.T, page string) url.Values {
	t.Helper()
	fields := url.Values{}
	for _, m := range hiddenInput.FindAllStringSubmatch(page, -1) {
		fields.Add(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	if len(fields) == 0 {
		t.Fatalf("no form fields in %s", page)
	}
	return fields
}
