package graphsim

import (
	"encoding/json"
	"errors"
	"net/http"
)

// MaxMailCount bounds one POST /_emulator/mail.
const MaxMailCount = 10000

// MailRequest is the body of POST /_emulator/mail.
type MailRequest struct {
	From    string     `json:"from,omitempty"`
	To      Recipients `json:"to"`
	Subject string     `json:"subject"`
	Body    string     `json:"body,omitempty"`
	Count   int        `json:"count,omitempty"`
}

// Recipients reads either one address or a list of them.
type Recipients []string

// UnmarshalJSON accepts "adele@..." or ["adele@...", "megan@..."].
func (r *Recipients) UnmarshalJSON(data []byte) error {
	var one string
	if err := json.Unmarshal(data, &one); err == nil {
		*r = Recipients{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(data, &many); err != nil {
		return errors.New("'to' must be a user or a list of users")
	}
	*r = many
	return nil
}

// SentMail is one message the control API delivered.
type SentMail struct {
	ID      string `json:"id"`
	To      string `json:"to"`
	Subject string `json:"subject"`
}

// LifecycleResult answers POST /_emulator/subscriptions/{id}/lifecycle.
type LifecycleResult struct {
	SubscriptionID string `json:"subscriptionId"`
	Event          string `json:"event"`
	// Sent is false when the subscription has no lifecycleNotificationUrl.
	Sent bool `json:"sent"`
	// Removed is true when the event deleted the subscription.
	Removed bool `json:"removed"`
}

func (s *Server) controlRoutes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /_emulator/mail", s.controlMail)
	mux.HandleFunc("GET /_emulator/subscriptions", func(w http.ResponseWriter, r *http.Request) {
		subs := s.Subscriptions()
		for i := range subs {
			subs[i].ClientState = "" // a secret: never shown
		}
		writeJSON(w, http.StatusOK, map[string]any{"value": subs})
	})
	mux.HandleFunc("POST /_emulator/subscriptions/{id}/lifecycle", s.controlLifecycle)
	mux.HandleFunc("GET /_emulator/teams", func(w http.ResponseWriter, r *http.Request) {
		teams, chats := s.Teams()
		writeJSON(w, http.StatusOK, map[string]any{"teams": teams, "chats": chats})
	})
	mux.HandleFunc("POST /_emulator/items", s.controlHandler(s.controlItem))
	mux.HandleFunc("POST /_emulator/events", s.controlHandler(s.controlEvent))
	mux.HandleFunc("POST /_emulator/messages", s.controlHandler(s.controlMessage))
	mux.HandleFunc("GET /_emulator/faults", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.CurrentFaults())
	})
	mux.HandleFunc("POST /_emulator/faults", s.controlFaults)
	mux.HandleFunc("GET /_emulator/deliveries", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"value": s.Deliveries(), "stats": s.Stats()})
	})
	mux.HandleFunc("/_emulator/", func(w http.ResponseWriter, r *http.Request) {
		controlError(w, r, s, errorf(http.StatusNotFound, "NotFound", "No emulator control call %s %s: see docs/emulator.md for the control API.", r.Method, r.URL.Path))
	})
	return mux
}

func controlError(w http.ResponseWriter, r *http.Request, s *Server, e *graphError) {
	ids := newRequestIDs(r)
	ids.set(w.Header())
	writeError(w, ids, s.cfg.Now(), e)
}

func (s *Server) controlMail(w http.ResponseWriter, r *http.Request) {
	var req MailRequest
	if e := readJSON(r, &req); e != nil {
		controlError(w, r, s, e)
		return
	}
	if req.Count == 0 {
		req.Count = 1
	}
	if req.Count < 0 || req.Count > MaxMailCount {
		controlError(w, r, s, errBadRequest("count must be between 1 and %d.", MaxMailCount))
		return
	}
	if len(req.To) == 0 {
		controlError(w, r, s, errBadRequest("'to' is required: name a user of the emulated tenant (id or user principal name)."))
		return
	}
	for _, to := range req.To {
		if _, ok := s.cfg.Tenant.UserByIDOrUPN(to); !ok {
			controlError(w, r, s, errorf(http.StatusBadRequest, "ErrorInvalidUser", "No user '%s' in the emulated tenant: use the id or user principal name of a seeded user.", to))
			return
		}
	}
	sent := []SentMail{}
	for i := 0; i < req.Count; i++ {
		for _, to := range req.To {
			id, err := s.SendMail(req.From, to, req.Subject, req.Body)
			if err != nil {
				controlError(w, r, s, errBadRequest("%s", err.Error()))
				return
			}
			sent = append(sent, SentMail{ID: id, To: to, Subject: req.Subject})
		}
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"value": sent})
}

func (s *Server) controlLifecycle(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Event string `json:"event"`
	}
	if e := readJSON(r, &req); e != nil {
		controlError(w, r, s, e)
		return
	}
	id := r.PathValue("id")
	sent, err := s.lifecycle(id, req.Event)
	switch {
	case errors.Is(err, ErrNoSubscription):
		controlError(w, r, s, errSubscriptionNotFound(id))
		return
	case err != nil:
		controlError(w, r, s, errBadRequest("%s", err.Error()))
		return
	}
	writeJSON(w, http.StatusAccepted, LifecycleResult{SubscriptionID: id, Event: req.Event, Sent: sent, Removed: req.Event == LifecycleSubscriptionRemoved})
}

func (s *Server) controlFaults(w http.ResponseWriter, r *http.Request) {
	var faults Faults
	if e := readJSON(r, &faults); e != nil {
		controlError(w, r, s, e)
		return
	}
	for name, rate := range map[string]float64{"throttleRate": faults.ThrottleRate, "dropRate": faults.DropRate, "duplicateRate": faults.DuplicateRate} {
		if rate < 0 || rate > 1 {
			controlError(w, r, s, errBadRequest("%s must be between 0 and 1.", name))
			return
		}
	}
	if faults.ThrottleStatus != 0 && faults.ThrottleStatus != http.StatusTooManyRequests && faults.ThrottleStatus != http.StatusServiceUnavailable && faults.ThrottleStatus != http.StatusGatewayTimeout {
		controlError(w, r, s, errBadRequest("throttleStatus must be 429, 503 or 504."))
		return
	}
	if faults.Latency < 0 || faults.RetryAfter < 0 {
		controlError(w, r, s, errBadRequest("latency and retryAfter must not be negative."))
		return
	}
	s.SetFaults(faults)
	s.log.Info("faults set", "faults", faultsSummary(s.CurrentFaults()))
	writeJSON(w, http.StatusOK, s.CurrentFaults())
}

func faultsSummary(f Faults) string {
	data, _ := json.Marshal(f)
	return string(data)
}
