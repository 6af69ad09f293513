package generate

import (
	"encoding/json"
	"fmt"
	"io"
)

// WriteJSONList writes the objects of every file to w as one v1 List, the
// form `kubectl get -o json` prints for several objects and `kubectl apply
// -f -` reads back. Raw files and kustomization.yaml are left out, as in
// WriteStream, and their names returned; JSON has no comments, so the caller
// says what the list lacks (on stderr).
func WriteJSONList(w io.Writer, files []File) (skipped []string, err error) {
	items := []map[string]any{}
	for _, f := range files {
		if len(f.Objects) == 0 {
			if f.Name != FileKustomization {
				skipped = append(skipped, f.Name)
			}
			continue
		}
		for _, u := range f.Objects {
			items = append(items, u.Object)
		}
	}
	list := map[string]any{"apiVersion": "v1", "kind": "List", "items": items}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(list); err != nil {
		return nil, fmt.Errorf("writing the JSON list: %w", err)
	}
	return skipped, nil
}
