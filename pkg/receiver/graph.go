package receiver

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hookctl/hookctl/pkg/forward"
	"github.com/hookctl/hookctl/pkg/notification"
)

// graph handles POST /notifications and POST /lifecycle.
func (r *Receiver) graph(route string) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		if strings.Contains(req.URL.RawQuery, "validationToken") {
			if token, present, reason := ValidationToken(req.URL.RawQuery); present {
				r.handshake(w, route, token, reason)
				return
			}
		}
		e := &entry{route: route, eventID: NewEventID(), contentType: req.Header.Get("Content-Type")}
		// The body is read behind room for the entry's header, so that the
		// journal's form of the entry needs no second copy of it.
		room := e.headerLen()
		data, ok := r.readBody(w, req, route, room)
		if !ok {
			return
		}
		body := data[room:]
		collection, err := notification.ParseLimited(body, r.opts.MaxItems)
		if err != nil {
			r.reject(w, route, http.StatusBadRequest, err.Error())
			return
		}
		noteExchange(w, func(x *Exchange) { x.Collection = collection })
		if len(collection.Value) == 0 {
			w.WriteHeader(http.StatusAccepted)
			return
		}
		if !r.reserveQueue(int64(len(body))) {
			w.Header().Set("Retry-After", strconv.Itoa(int(RetryAfter/time.Second)))
			r.stats.busy.Add(1)
			r.reject(w, route, http.StatusServiceUnavailable, "too many notifications waiting to be processed; retry later")
			return
		}
		e.receivedAt = r.opts.Now()
		e.body = body
		e.collection = collection
		e.data = e.appendHeader(data[:0])[:len(data)]
		// Not cancelled when the client hangs up: once written, the entry must
		// also be queued here, or it would wait for the next start.
		if err := r.accept(context.WithoutCancel(req.Context()), e); err != nil {
			r.releaseQueue(int64(len(body)))
			// 503 with Retry-After makes Graph back off and retry (for up to
			// four hours), which is right when the disk failed us: nothing
			// is acknowledged that is not synced. The cause goes to the
			// operator, not to the unauthenticated sender.
			w.Header().Set("Retry-After", strconv.Itoa(int(RetryAfter/time.Second)))
			r.stats.rejected.Add(1)
			plainError(w, http.StatusServiceUnavailable, "could not record the notification durably; retry later")
			r.report(RejectedEvent{Route: route, Status: http.StatusServiceUnavailable, Reason: "could not record the notification durably: " + err.Error()})
			return
		}
		// The event id lets whoever watches the exchange (the listener's
		// history) find the events this request becomes.
		// Assigned, not Set: the name is canonical already, and Set would
		// check that again on every request.
		w.Header()[forward.EventIDHeader] = []string{e.eventID}
		w.WriteHeader(http.StatusAccepted)
	}
}

// accept stores e and queues it for processing.
func (r *Receiver) accept(ctx context.Context, e *entry) error {
	if e.data == nil {
		e.data = e.encode()
	}
	seq, err := r.opts.Store.Append(ctx, e.data)
	if err != nil {
		return err
	}
	e.seq = seq
	if e.resent {
		// Without the fsync of the entry's: a crash before it is written
		// only makes the replay subject to duplicate detection.
		_ = r.opts.Store.Mark(seq, stageReplay)
	}
	r.stats.received.Add(int64(len(e.collection.Value)))
	r.enqueue(e)
	if r.opts.Accepted != nil {
		r.opts.Accepted(e.collection)
	}
	return nil
}

// Replay takes a Graph request body received earlier (a history record's)
// as if it had just arrived on route (NotificationsPath or LifecyclePath):
// it is journaled and processed like any other, except that its events are
// marked Replayed and it bypasses duplicate detection, since sending it again
// is the point. It returns the new request's event id.
func (r *Receiver) Replay(ctx context.Context, route string, body []byte, contentType string) (string, error) {
	e, err := replayEntry(route, contentType, body, r.opts.MaxBodyBytes, r.opts.MaxItems, r.opts.Now())
	if err != nil {
		return "", err
	}
	if !r.reserveQueue(int64(len(body))) {
		return "", errors.New("too many notifications waiting to be processed; replay later")
	}
	if err := r.accept(ctx, e); err != nil {
		r.releaseQueue(int64(len(body)))
		return "", fmt.Errorf("could not record the replay durably: %w", err)
	}
	return e.eventID, nil
}

// QueueReplay writes a replay of a Graph request body into store, the
// journal of a listener that is not running, as Replay would: the next
// receiver to open that journal processes it, marked Replayed and past
// duplicate detection. It returns the new request's event id.
func QueueReplay(ctx context.Context, store Store, route, contentType string, body []byte) (string, error) {
	e, err := replayEntry(route, contentType, body, 0, 0, time.Now())
	if err != nil {
		return "", err
	}
	seq, err := store.Append(ctx, e.encode())
	if err != nil {
		return "", fmt.Errorf("could not record the replay durably: %w", err)
	}
	if err := store.Mark(seq, stageReplay); err != nil {
		return "", fmt.Errorf("could not mark the replay: %w", err)
	}
	return e.eventID, nil
}

// replayEntry checks a body to replay on route and makes its entry; 0 limits
// take the defaults.
func replayEntry(route, contentType string, body []byte, maxBody int64, maxItems int, now time.Time) (*entry, error) {
	if route != NotificationsPath && route != LifecyclePath {
		return nil, fmt.Errorf("only %s and %s requests can be replayed through the receiver", NotificationsPath, LifecyclePath)
	}
	if maxBody <= 0 {
		maxBody = DefaultMaxBodyBytes
	}
	if maxItems <= 0 {
		maxItems = notification.MaxItems
	}
	if int64(len(body)) > maxBody {
		return nil, fmt.Errorf("the body is larger than %s", formatBytes(maxBody))
	}
	collection, err := notification.ParseLimited(body, maxItems)
	if err != nil {
		return nil, err
	}
	if len(collection.Value) == 0 {
		return nil, errors.New("the body holds no notifications")
	}
	return &entry{route: route, receivedAt: now, eventID: NewEventID(), contentType: contentType, body: body, collection: collection, resent: true}, nil
}

// EntryEventID is the event id inside data, an entry the receiver gave its
// Store ("" when data is not one): a Store that watches Append and Complete
// can tell which request an entry is.
func EntryEventID(data []byte) string {
	if len(data) < 11 || data[0] != entryVersion {
		return ""
	}
	n := int(binary.LittleEndian.Uint16(data[9:11]))
	if len(data) < 11+n {
		return ""
	}
	return string(data[11 : 11+n])
}

// ValidationToken finds the validationToken parameter in a raw query string
// and decodes it. present is false when there is none; reason is set when the
// token is present but unusable (bad encoding, empty, over 64 KiB).
func ValidationToken(rawQuery string) (token string, present bool, reason string) {
	for rawQuery != "" {
		var pair string
		pair, rawQuery, _ = strings.Cut(rawQuery, "&")
		name, value, _ := strings.Cut(pair, "=")
		if decoded, err := url.QueryUnescape(name); err != nil || decoded != "validationToken" {
			continue
		}
		decoded, err := url.QueryUnescape(value)
		switch {
		case err != nil:
			return "", true, "validationToken is not valid URL encoding"
		case decoded == "":
			return "", true, "validationToken is empty"
		case len(decoded) > MaxValidationToken:
			return "", true, "validationToken is longer than 64 KiB"
		}
		return decoded, true, ""
	}
	return "", false, ""
}

// handshake answers Graph's endpoint validation: 200, text/plain, the token.
func (r *Receiver) handshake(w http.ResponseWriter, route, token, reason string) {
	if reason != "" {
		r.reject(w, route, http.StatusBadRequest, reason)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Length", strconv.Itoa(len(token)))
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, token)
	r.report(HandshakeEvent{Route: route})
}

// readBody reads at most MaxBodyBytes, answering 413 beyond. It returns room
// bytes of free space followed by the body, in one buffer sized from the
// Content-Length. What it read goes to the request's Exchange, whole or not.
func (r *Receiver) readBody(w http.ResponseWriter, req *http.Request, route string, room int) ([]byte, bool) {
	limit := r.opts.MaxBodyBytes
	if req.ContentLength > limit {
		r.reject(w, route, http.StatusRequestEntityTooLarge, tooLarge(limit))
		return nil, false
	}
	// One byte past the Content-Length leaves room to read the end of the
	// body without growing the buffer.
	size := bytes.MinRead
	if req.ContentLength > 0 {
		size = int(req.ContentLength) + 1
	}
	buf := make([]byte, room, room+size)
	body := http.MaxBytesReader(w, req.Body, limit)
	var err error
	for {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, bytes.MinRead)
		}
		var n int
		n, err = body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err != nil {
			break
		}
	}
	if err == io.EOF {
		err = nil
	}
	noteExchange(w, func(x *Exchange) { x.Body = buf[room:] })
	if err != nil {
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			r.reject(w, route, http.StatusRequestEntityTooLarge, tooLarge(limit))
		} else {
			r.reject(w, route, http.StatusBadRequest, "could not read the request body")
		}
		return nil, false
	}
	return buf, true
}

// tooLarge is the reason a body over limit is refused, built only then.
func tooLarge(limit int64) string { return "request body is larger than " + formatBytes(limit) }

func formatBytes(n int64) string {
	if n%(1<<20) == 0 {
		return strconv.FormatInt(n>>20, 10) + " MiB"
	}
	if n%(1<<10) == 0 {
		return strconv.FormatInt(n>>10, 10) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

func (r *Receiver) reject(w http.ResponseWriter, route string, status int, reason string) {
	r.stats.rejected.Add(1)
	plainError(w, status, reason)
	r.report(RejectedEvent{Route: route, Status: status, Reason: reason})
}

// NewEventID is a fresh request id: "evt_" and 32 hex digits.
func NewEventID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	id := [eventIDLen]byte{'e', 'v', 't', '_'}
	hex.Encode(id[4:], b[:])
	return string(id[:])
}

const eventIDLen = 4 + 32

// entry is one accepted collection on its way through processing.
type entry struct {
	seq         uint64
	route       string
	receivedAt  time.Time
	eventID     string
	contentType string
	body        []byte
	collection  *notification.Collection // nil until parsed (replay)

	data     []byte   // the encoded form kept in the Store
	marks    []string // stages done in an earlier run
	replayed bool     // from the journal, left by an earlier run
	resent   bool     // sent again on purpose (Replay): no duplicate detection
}

// entryVersion prefixes the stored form so later versions can read old journals.
const entryVersion = 1

// encode is the stored form: version, receivedAt (Unix ns), then the event id,
// route and content type, each with a 2-byte length, then the body.
func (e *entry) encode() []byte {
	return append(e.appendHeader(make([]byte, 0, e.headerLen()+len(e.body))), e.body...)
}

// headerLen is the length of the stored form before the body.
func (e *entry) headerLen() int {
	size := 9
	for _, field := range e.headerFields() {
		size += 2 + len(field)
	}
	return size
}

// appendHeader appends the stored form before the body to dst.
func (e *entry) appendHeader(dst []byte) []byte {
	dst = append(dst, entryVersion)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(e.receivedAt.UnixNano()))
	for _, field := range e.headerFields() {
		dst = binary.LittleEndian.AppendUint16(dst, uint16(len(field)))
		dst = append(dst, field...)
	}
	return dst
}

// headerFields are the strings of the stored form, each cut to what its
// 2-byte length can say.
func (e *entry) headerFields() [3]string {
	fields := [3]string{e.eventID, e.route, e.contentType}
	for i, field := range fields {
		if len(field) > 0xffff {
			fields[i] = field[:0xffff]
		}
	}
	return fields
}

var errBadEntry = errors.New("unreadable journal entry")

func decodeEntry(seq uint64, data []byte, marks []string) (*entry, error) {
	if len(data) < 9 || data[0] != entryVersion {
		return nil, errBadEntry
	}
	e := &entry{seq: seq, data: data, marks: marks, replayed: true}
	e.receivedAt = time.Unix(0, int64(binary.LittleEndian.Uint64(data[1:9])))
	rest := data[9:]
	fields := make([]string, 3)
	for i := range fields {
		if len(rest) < 2 {
			return nil, errBadEntry
		}
		n := int(binary.LittleEndian.Uint16(rest))
		if len(rest) < 2+n {
			return nil, errBadEntry
		}
		fields[i] = string(rest[2 : 2+n])
		rest = rest[2+n:]
	}
	e.eventID, e.route, e.contentType = fields[0], fields[1], fields[2]
	e.body = rest
	collection, err := notification.Parse(e.body)
	if err != nil {
		return nil, errBadEntry
	}
	e.collection = collection
	return e, nil
}
