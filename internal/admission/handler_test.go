package admission

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"github.com/budnet/budnet/internal/platform"
)

// reviewBody is an AdmissionReview deleting data/db-from-team-web, which
// breaks the model flow.
func reviewBody(t testing.TB, objs []*unstructured.Unstructured, dryRun bool) []byte {
	t.Helper()
	var old *unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == "NetworkPolicy" && o.GetName() == "db-from-team-web" {
			old = o
		}
	}
	raw, err := old.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	review := admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{UID: types.UID("u-1"), Operation: admissionv1.Delete,
			Kind:      metav1.GroupVersionKind{Group: "networking.k8s.io", Version: "v1", Kind: "NetworkPolicy"},
			Namespace: "data", Name: "db-from-team-web", OldObject: runtime.RawExtension{Raw: raw}, DryRun: &dryRun},
	}
	b, err := json.Marshal(review)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func post(t testing.TB, h http.Handler, body []byte) (int, *admissionv1.AdmissionResponse) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/validate", bytes.NewReader(body)))
	if rec.Code != http.StatusOK {
		return rec.Code, nil
	}
	var out admissionv1.AdmissionReview
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatalf("response %q: %v", rec.Body.String(), err)
	}
	return rec.Code, out.Response
}

// TestHandlerUndecided: a decision that cannot finish (deadline already
// passed, or no cluster state yet) is admitted or denied per --on-timeout,
// says so in a warning and counts in the metric; never a silent pass.
func TestHandlerUndecided(t *testing.T) {
	objs, model := fixture(t)
	ready := func() ([]*unstructured.Unstructured, *platform.Platform, error) { return objs, model, nil }
	notReady := func() ([]*unstructured.Unstructured, *platform.Platform, error) {
		return nil, nil, errors.New("informers not synced")
	}
	for _, tc := range []struct {
		name    string
		src     Source
		timeout time.Duration
		deny    bool
		allowed bool
		reason  string
	}{
		{name: "deadline passed, admit", src: ready, timeout: time.Nanosecond, allowed: true, reason: "timeout"},
		{name: "deadline passed, deny", src: ready, timeout: time.Nanosecond, deny: true, allowed: false, reason: "timeout"},
		{name: "not ready, admit", src: notReady, timeout: time.Minute, allowed: true, reason: "not-ready"},
		{name: "not ready, deny", src: notReady, timeout: time.Minute, deny: true, allowed: false, reason: "not-ready"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			h, err := NewHandler(tc.src, ModeEnforce, tc.timeout, tc.deny, reg, nil)
			if err != nil {
				t.Fatal(err)
			}
			code, resp := post(t, h, reviewBody(t, objs, false))
			if code != http.StatusOK {
				t.Fatalf("status %d", code)
			}
			if resp.Allowed != tc.allowed || resp.UID != "u-1" {
				t.Errorf("allowed %v uid %q, want %v", resp.Allowed, resp.UID, tc.allowed)
			}
			if len(resp.Warnings) == 0 || !strings.Contains(resp.Warnings[0], "could not decide") {
				t.Errorf("warnings %q do not say the guard could not decide", resp.Warnings)
			}
			result := "undecided-allowed"
			if tc.deny {
				result = "undecided-denied"
			}
			if n := testutil.ToFloat64(h.decisions.WithLabelValues(result, tc.reason)); n != 1 {
				t.Errorf("%s/%s counted %v times", result, tc.reason, n)
			}
		})
	}
}

// TestHandlerNotJudged: a change adding a policy part the engine does not
// judge is undecided (reason unjudged), admitted or denied per --on-timeout,
// with the part named in the warning.
func TestHandlerNotJudged(t *testing.T) {
	objs, model := fixture(t)
	raw, err := obj(t, apiServerToDB).MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	body, err := json.Marshal(admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{UID: types.UID("u-2"), Operation: admissionv1.Create,
			Kind:      metav1.GroupVersionKind{Group: "cilium.io", Version: "v2", Kind: "CiliumNetworkPolicy"},
			Namespace: "data", Name: "db-from-apiserver", Object: runtime.RawExtension{Raw: raw}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, deny := range []bool{false, true} {
		h, err := NewHandler(func() ([]*unstructured.Unstructured, *platform.Platform, error) { return objs, model, nil },
			ModeEnforce, time.Minute, deny, prometheus.NewRegistry(), nil)
		if err != nil {
			t.Fatal(err)
		}
		_, resp := post(t, h, body)
		if resp.Allowed == deny || len(resp.Warnings) == 0 || !strings.Contains(resp.Warnings[0], "fromEntities") {
			t.Errorf("deny %v: allowed %v, warnings %q", deny, resp.Allowed, resp.Warnings)
		}
		result := map[bool]string{false: "undecided-allowed", true: "undecided-denied"}[deny]
		if n := testutil.ToFloat64(h.decisions.WithLabelValues(result, "unjudged")); n != 1 {
			t.Errorf("%s/unjudged counted %v times", result, n)
		}
	}
}

// TestHandlerDecides: the same review, decided, denies with the flow named;
// a dry run is judged the same.
func TestHandlerDecides(t *testing.T) {
	objs, model := fixture(t)
	h, err := NewHandler(func() ([]*unstructured.Unstructured, *platform.Platform, error) { return objs, model, nil },
		ModeEnforce, time.Minute, false, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, dry := range []bool{false, true} {
		_, resp := post(t, h, reviewBody(t, objs, dry))
		if resp.Allowed || resp.Result == nil || resp.Result.Code != http.StatusForbidden ||
			!strings.Contains(resp.Result.Message, "breaks app/web[Deployment] => data/db[StatefulSet]") {
			t.Errorf("dryRun %v: %+v", dry, resp)
		}
	}
}

// FuzzHandler: any body gets a 200 with a response or a 400, never a panic.
func FuzzHandler(f *testing.F) {
	objs, model := fixture(f)
	h, err := NewHandler(func() ([]*unstructured.Unstructured, *platform.Platform, error) { return objs, model, nil },
		ModeEnforce, time.Minute, false, nil, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(reviewBody(f, objs, false))
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`))
	f.Add([]byte(`{"request":{"uid":"x","operation":"CREATE","object":{"kind":"NetworkPolicy"}}}`))
	f.Add([]byte(`{"request":{"uid":"x","operation":"UPDATE","object":[1]}}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, body []byte) {
		code, resp := post(t, h, body)
		if code != http.StatusOK && code != http.StatusBadRequest {
			t.Fatalf("status %d", code)
		}
		if code == http.StatusOK && resp == nil {
			t.Fatal("200 without a response")
		}
	})
}
