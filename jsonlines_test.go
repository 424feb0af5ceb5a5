package main

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookctl/hookctl/internal/clitest"
)

// jsonLinesScript runs, against the emulator, every command that prints JSON
// lines, each into a file of its own name under out/ (REPO is the clone).
const jsonLinesScript = `mkdir out
hookctl version -o json > out/version
hookctl whoami -o json > out/whoami
hookctl whoami --all -o json > out/whoami-all
hookctl connector lint REPO/testdata/connectors/github.swagger.json --properties REPO/testdata/connectors/github.apiProperties.json -o json > out/connector-lint
hookctl connector triggers REPO/testdata/connectors/github.swagger.json -o json > out/connector-triggers
export TEAMS_KEY=$(head -c 32 /dev/urandom | base64)
hookctl listen --subscribe inbox --fetch --tunnel none --teams-secret-env TEAMS_KEY --count 4 --journal listen.journal -o json > out/listen 2>listen.err &
until grep -q '"type":"subscribed"' out/listen; do kill -0 $! || { cat listen.err; exit 1; }; sleep 0.2; done
hookctl trigger mail --count 2 -o json > out/trigger-mail
teams=$(sed -n 's/.*"teamsUrl":"\([^"]*\)".*/\1/p' out/listen)
hookctl send teams --to "$teams" --secret-env TEAMS_KEY --text "deploy staging" -o json > out/send-teams
sub=$(sed -n 's/.*"type":"subscribed","subscriptionId":"\([^"]*\)".*/\1/p' out/listen)
hookctl subscriptions list -o json > out/subscriptions-list
hookctl subscriptions show "$sub" -o json > out/subscriptions-show
hookctl emulator lifecycle "$sub" missed -o json > out/emulator-lifecycle
wait $!
hookctl events list --journal listen.journal -o json > out/events-list
evt=$(sed -n 's/.*"id":"\(evt_[^"]*\)".*/\1/p' out/events-list | head -n 1)
hookctl events show "$evt" --journal listen.journal -o json > out/events-show
hookctl login --scopes Calendars.ReadWrite,offline_access >/dev/null 2>&1
hookctl trigger event --start 2026-12-02T10:00:00.1234567Z -o json > out/trigger-event
hookctl emulator send-mail --to adele@contoso.example -o json > out/emulator-send-mail
hookctl emulator create-event --user adele@contoso.example --start 2026-12-02T10:00:00.1234567Z -o json > out/emulator-create-event
hookctl emulator post-message --text "deploy finished" -o json > out/emulator-post-message
`

// TestEveryJSONLineHasATypeAndMillisecondTimes runs each command's -o json
// output through checkJSONLines: every line is an object with a string
// "type", and every time hookctl writes is RFC 3339 with at most three
// fractional digits (Graph sends seven; a resource as Graph sent it —
// resourceData, a decrypted content — is kept as it came).
func TestEveryJSONLineHasATypeAndMillisecondTimes(t *testing.T) {
	if testing.Short() {
		t.Skip("runs commands against the emulator (-short skips it)")
	}
	bin := filepath.Dir(clitest.Binary(t))
	home := t.TempDir()
	repo, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	script := strings.ReplaceAll(jsonLinesScript, "REPO", repo)
	code, output := runScript(t, bin, home, home, signIn+script)
	if code != 0 {
		t.Fatalf("the script failed (exit %d):\n%s", code, output)
	}
	files, err := filepath.Glob(filepath.Join(home, "out", "*"))
	if err != nil || len(files) < 17 {
		t.Fatalf("outputs: %v (%v)", files, err)
	}
	// listen's lines include each kind of event the checker must see.
	if listened, _ := os.ReadFile(filepath.Join(home, "out", "listen")); !strings.Contains(string(listened), `"type":"teams"`) ||
		!strings.Contains(string(listened), `"lifecycleEvent":"missed"`) || !strings.Contains(string(listened), `"message":{`) {
		t.Errorf("listen printed less than a fetched notification, a lifecycle event and a Teams message:\n%s", listened)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if len(strings.TrimSpace(string(data))) == 0 {
			t.Errorf("%s printed nothing", filepath.Base(file))
		}
		for _, problem := range checkJSONLines(string(data)) {
			t.Errorf("%s: %s", filepath.Base(file), problem)
		}
	}
}

// fraction finds the fractional seconds of an RFC 3339 time.
var fraction = regexp.MustCompile(`T\d\d:\d\d:\d\d\.(\d+)`)

// checkJSONLines says what is wrong with each line of out.
func checkJSONLines(out string) []string {
	var problems []string
	scanner := bufio.NewScanner(strings.NewReader(out))
	scanner.Buffer(nil, 1<<20)
	for n := 1; scanner.Scan(); n++ {
		var line map[string]any
		if err := json.Unmarshal(scanner.Bytes(), &line); err != nil {
			problems = append(problems, "line "+strconv.Itoa(n)+" is not a JSON object: "+scanner.Text())
			continue
		}
		if typ, ok := line["type"].(string); !ok || typ == "" {
			problems = append(problems, "line "+strconv.Itoa(n)+" has no string type: "+scanner.Text())
		}
		walkStrings(line, func(path, s string) {
			if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
				return
			}
			if m := fraction.FindStringSubmatch(s); m != nil && len(m[1]) > 3 {
				problems = append(problems, "line "+strconv.Itoa(n)+": "+path+" is "+s+", more precise than milliseconds")
			}
		})
	}
	return problems
}

// walkStrings calls f with every string in v and its path, except inside
// what the wire sent as it was (resourceData, a decrypted resource).
func walkStrings(v any, f func(path, s string)) {
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case string:
			f(path, v)
		case []any:
			for i, item := range v {
				walk(path+"["+strconv.Itoa(i)+"]", item)
			}
		case map[string]any:
			for name, item := range v {
				if name == "resourceData" || name == "content" {
					continue
				}
				walk(path+"."+name, item)
			}
		}
	}
	walk("", v)
}

func TestCheckJSONLinesFindsWhatIsWrong(t *testing.T) {
	good := `{"type":"x","at":"2026-12-02T16:37:55.378Z","resourceData":{"at":"2026-12-02T16:37:55.3782223Z"}}` + "\n"
	if p := checkJSONLines(good); len(p) != 0 {
		t.Errorf("a good line: %v", p)
	}
	for _, bad := range []string{
		`{"at":"2026-12-02T16:37:55.378Z"}`,
		`{"type":3}`,
		`[1]`,
		`{"type":"x","s":{"e":"2026-12-02T16:37:55.3782223Z"}}`,
		`{"type":"x","e":["2026-12-02T16:37:55.3782+01:00"]}`,
	} {
		if p := checkJSONLines(bad); len(p) != 1 {
			t.Errorf("%s: %v", bad, p)
		}
	}
}
