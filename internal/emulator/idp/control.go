package idp

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
)

// ControlHandler serves the identity part of the emulator's control API under
// /_emulator/ (docs/emulator.md describes it). It is a ServeMux so that the
// emulator can ask it (Handler) whether it knows a path and pass the rest on.
func (s *Server) ControlHandler() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_emulator/devicecode", s.handleListDeviceCodes)
	mux.HandleFunc("POST /_emulator/devicecode/approve", s.handleApproveDeviceCode)
	mux.HandleFunc("POST /_emulator/users/{user}/revokeSignInSessions", s.handleRevoke)
	mux.HandleFunc("POST /_emulator/tokens", s.handleMintToken)
	return mux
}

func controlError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, graphError(code, message))
}

func decodeControl(w http.ResponseWriter, r *http.Request, v any) bool {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		controlError(w, http.StatusBadRequest, "BadRequest", "The body is not the expected JSON object: "+err.Error())
		return false
	}
	return true
}

func (s *Server) handleListDeviceCodes(w http.ResponseWriter, _ *http.Request) {
	codes := s.DeviceCodes()
	if codes == nil {
		codes = []DeviceCode{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"value": codes})
}

type approveRequest struct {
	UserCode string `json:"userCode"`
	User     string `json:"user"`
	Deny     bool   `json:"deny"`
}

func (s *Server) handleApproveDeviceCode(w http.ResponseWriter, r *http.Request) {
	var req approveRequest
	if !decodeControl(w, r, &req) {
		return
	}
	if req.UserCode == "" {
		controlError(w, http.StatusBadRequest, "BadRequest", `"userCode" is required.`)
		return
	}
	var err error
	status := DeviceDenied
	if req.Deny {
		err = s.DenyDeviceCode(req.UserCode)
	} else {
		if req.User == "" {
			if len(s.tenant.Users) == 0 {
				controlError(w, http.StatusBadRequest, "BadRequest", "The tenant has no users to sign in.")
				return
			}
			req.User = s.tenant.Users[0].UserPrincipalName
		}
		status = DeviceApproved
		err = s.ApproveDeviceCode(req.UserCode, req.User)
	}
	switch {
	case errors.Is(err, ErrUnknownUserCode):
		controlError(w, http.StatusNotFound, "NotFound", "No device code has the user code "+req.UserCode+".")
		return
	case errors.Is(err, ErrUnknownUser):
		controlError(w, http.StatusNotFound, "NotFound", "AADSTS50034: The user account "+req.User+" does not exist in the tenant.")
		return
	case errors.Is(err, ErrCodeExpired):
		controlError(w, http.StatusConflict, "Conflict", "The device code "+req.UserCode+" expired.")
		return
	case errors.Is(err, ErrCodeDecided):
		controlError(w, http.StatusConflict, "Conflict", "The device code "+req.UserCode+" was already approved or denied.")
		return
	case err != nil:
		controlError(w, http.StatusInternalServerError, "InternalServerError", err.Error())
		return
	}
	body := map[string]string{"userCode": strings.ToUpper(req.UserCode), "status": string(status)}
	if !req.Deny {
		u, _ := s.tenant.UserByIDOrUPN(req.User)
		body["user"] = u.UserPrincipalName
	}
	writeJSON(w, http.StatusOK, body)
}

func (s *Server) handleRevoke(w http.ResponseWriter, r *http.Request) {
	n, err := s.RevokeRefreshTokens(r.PathValue("user"))
	if err != nil {
		controlError(w, http.StatusNotFound, "NotFound", "AADSTS50034: The user account "+r.PathValue("user")+" does not exist in the tenant.")
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"revoked": n})
}

type mintRequest struct {
	ClientID string   `json:"clientId"`
	User     string   `json:"user"`
	Scopes   []string `json:"scopes"`
	Roles    []string `json:"roles"`
}

// handleMintToken hands out an access token without a sign-in flow, for
// scripts that only want to call the emulated Graph.
func (s *Server) handleMintToken(w http.ResponseWriter, r *http.Request) {
	var req mintRequest
	if !decodeControl(w, r, &req) {
		return
	}
	if req.ClientID == "" {
		controlError(w, http.StatusBadRequest, "BadRequest", `"clientId" is required.`)
		return
	}
	var (
		token string
		err   error
	)
	if req.User != "" {
		if len(req.Scopes) == 0 {
			controlError(w, http.StatusBadRequest, "BadRequest", `"scopes" is required with "user".`)
			return
		}
		token, err = s.MintUserToken(req.ClientID, req.User, req.Scopes)
	} else {
		token, err = s.MintAppToken(req.ClientID, req.Roles)
	}
	if err != nil {
		controlError(w, http.StatusNotFound, "NotFound", err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"token_type": "Bearer", "access_token": token, "expires_in": int(s.cfg.AccessTokenLifetime.Seconds()),
	})
}
