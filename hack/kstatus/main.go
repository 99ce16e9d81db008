// Command kstatus prints what kstatus (sigs.k8s.io/cli-utils/pkg/kstatus/status) computes for Kubernetes
// objects: the health model Flux and `kubectl wait --for=...`-style tools read. The tests use it to prove
// that the operator's status conditions mean to kstatus what docs/install.md says they mean.
//
// Input on stdin: JSON objects, one after another, each an object, a List (kind *List with items, as
// `kubectl get -o json` prints) or an array of objects. Output: one JSON line per object,
// {"kind", "namespace", "name", "status", "message"}; exit status 1 on unreadable input or when kstatus
// cannot compute a status.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

type result struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	Status    string `json:"status"`
	Message   string `json:"message"`
}

func main() {
	if err := run(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "kstatus:", err)
		os.Exit(1)
	}
}

func run(in io.Reader, out io.Writer) error {
	dec := json.NewDecoder(in)
	enc := json.NewEncoder(out)
	for {
		var raw json.RawMessage
		if err := dec.Decode(&raw); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return fmt.Errorf("reading input: %w", err)
		}
		objects, err := split(raw)
		if err != nil {
			return err
		}
		for _, obj := range objects {
			res, err := compute(obj)
			if err != nil {
				return err
			}
			if err := enc.Encode(res); err != nil {
				return err
			}
		}
	}
}

// split turns one JSON value into the objects it holds. util/json (not encoding/json) keeps integers as
// int64, which unstructured's accessors need: with float64 numbers metadata.generation reads as 0.
func split(raw json.RawMessage) ([]map[string]interface{}, error) {
	var value interface{}
	if err := utiljson.Unmarshal(raw, &value); err != nil {
		return nil, fmt.Errorf("parsing input: %w", err)
	}
	switch v := value.(type) {
	case []interface{}:
		var objects []map[string]interface{}
		for i, item := range v {
			obj, ok := item.(map[string]interface{})
			if !ok {
				return nil, fmt.Errorf("array item %d is not an object", i)
			}
			objects = append(objects, obj)
		}
		return objects, nil
	case map[string]interface{}:
		kind, _ := v["kind"].(string)
		if items, ok := v["items"].([]interface{}); ok && strings.HasSuffix(kind, "List") {
			return split(mustMarshal(items))
		}
		return []map[string]interface{}{v}, nil
	default:
		return nil, fmt.Errorf("input is neither an object nor an array")
	}
}

func mustMarshal(v interface{}) json.RawMessage {
	data, err := json.Marshal(v)
	if err != nil {
		panic(err) // re-marshalling what was just parsed cannot fail
	}
	return data
}

func compute(obj map[string]interface{}) (result, error) {
	u := &unstructured.Unstructured{Object: obj}
	res, err := status.Compute(u)
	if err != nil {
		return result{}, fmt.Errorf("%s %s/%s: %w", u.GetKind(), u.GetNamespace(), u.GetName(), err)
	}
	return result{
		Kind:      u.GetKind(),
		Namespace: u.GetNamespace(),
		Name:      u.GetName(),
		Status:    res.Status.String(),
		Message:   res.Message,
	}, nil
}
