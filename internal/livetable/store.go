package livetable

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"
)

// Each entry's record lives in two keys of the storage, its slots:
// resty/live/<table>/<name>.a.json and …/<name>.b.json. A change writes
// the slot that does not hold the entry's current record, so a write that
// fails half-way (full disk, crash) leaves the previous record whole; a
// read takes the valid record with the highest version.
var slotSuffixes = [2]string{".a.json", ".b.json"}

// slotKey returns the storage key of one slot of an entry's record.
func (t *Table[V]) slotKey(name string, slot int) string {
	esc := url.PathEscape(name)
	if strings.HasPrefix(esc, ".") {
		esc = "%2E" + esc[1:]
	}
	return t.prefix + "/" + esc + slotSuffixes[slot]
}

// encodeRecord returns the stored form of a record, with its checksum.
func encodeRecord(r record) ([]byte, error) {
	r.Sum = ""
	b, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(b)
	r.Sum = hex.EncodeToString(sum[:16])
	return json.Marshal(r)
}

// decodeRecord reads a stored record and checks its checksum. Trailing
// white space (the padding of an overwritten slot file) is allowed.
func decodeRecord(data []byte) (record, error) {
	var r record
	if err := json.Unmarshal(data, &r); err != nil {
		return r, err
	}
	if r.Name == "" {
		return r, errors.New("no name")
	}
	want := r.Sum
	check, err := encodeRecord(r)
	if err != nil {
		return r, err
	}
	var got record
	if err := json.Unmarshal(check, &got); err != nil || got.Sum != want {
		return r, errors.New("checksum mismatch (a torn write?)")
	}
	return r, nil
}

// persistLocked writes an entry's record to the slot after e.slot and
// sets e.slot to it.
func (t *Table[V]) persistLocked(e *entry[V]) error {
	slot := 0
	if e.slot == 0 {
		slot = 1
	}
	if t.store != nil {
		data, err := encodeRecord(e.rec)
		if err != nil {
			return err
		}
		key := t.slotKey(e.rec.Name, slot)
		if fsys, ok := t.store.(*certmagic.FileStorage); ok {
			err = overwriteFile(fsys.Filename(key), data)
		} else {
			ctx, cancel := context.WithTimeout(context.Background(), storageTimeout)
			err = t.store.Store(ctx, key, data)
			cancel()
		}
		if err != nil {
			return err
		}
	}
	e.slot = slot
	return nil
}

// overwriteFile writes data over the start of an existing file, padding
// it with spaces to the file's size (no truncation, no new file: the
// directory is not touched). A file that does not exist yet is created
// with a temporary file renamed into place.
func overwriteFile(name string, data []byte) error {
	f, err := os.OpenFile(name, os.O_WRONLY, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return createFile(name, data)
	}
	if err != nil {
		return err
	}
	st, err := f.Stat()
	if err == nil {
		if pad := st.Size() - int64(len(data)); pad > 0 {
			data = append(data, bytes.Repeat([]byte{' '}, int(pad))...)
		}
		_, err = f.WriteAt(data, 0)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// createFile creates a file atomically: a temporary file in the same
// directory renamed into place.
func createFile(name string, data []byte) error {
	dir := filepath.Dir(name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), name)
	}
	if err != nil {
		_ = os.Remove(f.Name())
	}
	return err
}

// removeLocked deletes both slots of an entry's record.
func (t *Table[V]) removeLocked(name string) error {
	if t.store == nil {
		return nil
	}
	var first error
	for slot := range slotSuffixes {
		ctx, cancel := context.WithTimeout(context.Background(), storageTimeout)
		err := t.store.Delete(ctx, t.slotKey(name, slot))
		cancel()
		if err != nil && !errors.Is(err, fs.ErrNotExist) && first == nil {
			first = err
		}
	}
	return first
}

// loadLocked reads the records from store, which becomes the table's
// storage: for each entry, the valid record with the highest version of
// its two slots. A record that cannot be read or decoded, or whose value
// fails validation, is skipped with a log line.
func (t *Table[V]) loadLocked(store certmagic.Storage, validate func(string, *V) error) {
	ctx, cancel := context.WithTimeout(context.Background(), storageTimeout)
	defer cancel()
	// Changes go to this storage from now on, even if it cannot be read
	// now (they fail there if it fails).
	t.store = store
	keys, err := store.List(ctx, t.prefix, false)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		// Keep what is in memory (the live state) and try again at the
		// next config load.
		t.loaded = false
		t.logger.Error("reading the live state from storage; using the config and the state in memory",
			zap.String("table", t.name), zap.Error(err))
		return
	}
	t.loaded = true
	recs := make(map[string]*entry[V], len(keys)/2)
	for _, key := range keys {
		slot := -1
		for i, suffix := range slotSuffixes {
			if strings.HasSuffix(key, suffix) {
				slot = i
			}
		}
		if slot < 0 {
			continue
		}
		data, err := store.Load(ctx, key)
		if err != nil {
			t.logger.Error("reading a live state record", zap.String("key", key), zap.Error(err))
			continue
		}
		rec, err := decodeRecord(data)
		if err != nil {
			t.logger.Warn("ignoring an unreadable live state record", zap.String("key", key), zap.Error(err))
			continue
		}
		if key != t.slotKey(rec.Name, slot) {
			t.logger.Warn("ignoring a live state record stored under another name", zap.String("key", key),
				zap.String("name", rec.Name))
			continue
		}
		if cur := recs[rec.Name]; cur != nil && cur.rec.Version >= rec.Version {
			continue
		}
		e := &entry[V]{rec: rec, slot: slot}
		if !rec.Deleted {
			e.val = new(V)
			err := json.Unmarshal(rec.Value, e.val)
			if err == nil && validate != nil {
				err = validate(rec.Name, e.val)
			}
			if err != nil {
				t.logger.Warn("ignoring an invalid live state record; the config's definition applies",
					zap.String("key", key), zap.Error(err))
				continue
			}
		}
		recs[rec.Name] = e
		t.versions[rec.Name] = max(t.versions[rec.Name], rec.Version)
	}
	t.recs = recs
}

// sameStorage reports whether two storages are the same value (a
// storage type that cannot be compared is never the same).
func sameStorage(a, b certmagic.Storage) (same bool) {
	defer func() {
		if recover() != nil {
			same = false
		}
	}()
	return a == b
}
