package boltcheck_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/ordeal-dev/ordeal/faults"
	"github.com/ordeal-dev/ordeal/internal/boltcheck"
)

// makeDB writes a file with a deep tree, a nested bucket, inline buckets
// and deleted keys (so free pages), and returns its last transaction.
func makeDB(t testing.TB, path string, noFreelistSync bool) uint64 {
	t.Helper()
	db, err := bolt.Open(path, 0o644, &bolt.Options{NoFreelistSync: noFreelistSync})
	if err != nil {
		t.Fatal(err)
	}
	for batch := 0; batch < 8; batch++ {
		err := db.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists([]byte("log"))
			if err != nil {
				return err
			}
			for i := 0; i < 300; i++ {
				k := binary.BigEndian.AppendUint64(nil, uint64(batch*300+i))
				if err := b.Put(k, make([]byte, 50+i%400)); err != nil {
					return err
				}
			}
			nested, err := b.CreateBucketIfNotExists([]byte("nested"))
			if err != nil {
				return err
			}
			if err := nested.Put(fmt.Appendf(nil, "n%d", batch), []byte("value")); err != nil {
				return err
			}
			small, err := tx.CreateBucketIfNotExists(fmt.Appendf(nil, "inline-%d", batch))
			if err != nil {
				return err
			}
			return small.Put([]byte("k"), []byte("v"))
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("log"))
		for i := 0; i < 500; i++ {
			if err := b.Delete(binary.BigEndian.AppendUint64(nil, uint64(i))); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var txid uint64
	_ = db.View(func(tx *bolt.Tx) error { txid = uint64(tx.ID()); return nil })
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return txid
}

func TestCheckSoundFiles(t *testing.T) {
	for _, noSync := range []bool{false, true} {
		path := filepath.Join(t.TempDir(), "db")
		txid := makeDB(t, path, noSync)
		info, err := boltcheck.Check(path, txid)
		if err != nil {
			t.Fatalf("NoFreelistSync=%v: %v", noSync, err)
		}
		if info.Meta.Txid != txid || info.Pages < 10 || (info.Meta.Freelist == ^uint64(0)) != noSync {
			t.Fatalf("NoFreelistSync=%v: info %+v, txid %d", noSync, info, txid)
		}
		if _, err := boltcheck.Check(path, txid+1); !errors.Is(err, boltcheck.ErrCorrupt) {
			t.Fatalf("another transaction than the file's: %v", err)
		}
	}
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := boltcheck.Check(empty, 0); err != nil {
		t.Fatalf("an empty file: %v", err)
	}
	if _, err := boltcheck.Check(empty, 3); !errors.Is(err, boltcheck.ErrCorrupt) {
		t.Fatalf("an empty file that closed at transaction 3: %v", err)
	}
}

// Damage that Check lets through must not crash bbolt: it opens, with the
// free list rebuilt by the goroutine that panics on damage, and every key
// is read. A crash fails the test by killing it.
func TestCheckGuardsOpen(t *testing.T) {
	n := 30
	if testing.Short() {
		n = 10
	}
	template := filepath.Join(t.TempDir(), "db")
	txid := makeDB(t, template, true)
	raw, err := os.ReadFile(template)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, kind := range []faults.CorruptKind{faults.CorruptFlip, faults.CorruptZero, faults.CorruptTruncate} {
		for seed := uint64(0); seed < uint64(n); seed++ {
			dir := t.TempDir()
			path := filepath.Join(dir, "db")
			if err := os.WriteFile(path, raw, 0o644); err != nil {
				t.Fatal(err)
			}
			c := faults.Corruption{Kind: kind, Seed: seed}
			if seed%4 == 0 {
				c.At = faults.RegionHead
			}
			d, err := c.ApplyDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			_, err = boltcheck.Check(path, txid)
			if err != nil {
				if !errors.Is(err, boltcheck.ErrCorrupt) {
					t.Fatalf("%s: %v does not wrap ErrCorrupt", d, err)
				}
				counts["refused"]++
				continue
			}
			if r := openAndRead(path); r != "" {
				counts["panicked in the reader"]++
				t.Logf("%s: passed the check; reading panicked: %s", d, r)
				continue
			}
			counts["opened"]++
		}
	}
	t.Logf("outcomes: %v", counts)
	if counts["refused"] == 0 {
		t.Fatal("Check refused nothing")
	}
}

// openAndRead opens the file as the engines do and reads every key,
// returning what a panic of this goroutine said.
func openAndRead(path string) (panicked string) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			panicked = fmt.Sprint(r)
		}
	}()
	db, err := bolt.Open(path, 0o644, &bolt.Options{NoFreelistSync: true, FreelistType: bolt.FreelistMapType})
	if err != nil {
		return ""
	}
	defer db.Close()
	_ = db.View(func(tx *bolt.Tx) error {
		var walk func(b *bolt.Bucket)
		walk = func(b *bolt.Bucket) {
			_ = b.ForEach(func(k, v []byte) error {
				if v == nil {
					if nb := b.Bucket(k); nb != nil {
						walk(nb)
					}
				}
				return nil
			})
		}
		return tx.ForEach(func(_ []byte, b *bolt.Bucket) error { walk(b); return nil })
	})
	return ""
}

func TestCheckNamesTheDamage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	txid := makeDB(t, path, true)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	info, err := boltcheck.Check(path, txid)
	if err != nil {
		t.Fatal(err)
	}
	ps := int(info.Meta.PageSize)
	write := func(b []byte) string {
		p := filepath.Join(t.TempDir(), "db")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	clone := func() []byte { return append([]byte(nil), raw...) }
	cases := map[string]func() []byte{
		"truncated": func() []byte { return clone()[:len(raw)/2] },
		"both meta pages": func() []byte {
			b := clone()
			b[16] ^= 1
			b[ps+16] ^= 1
			return b
		},
		"root page id": func() []byte {
			b := clone()
			binary.LittleEndian.PutUint64(b[int(info.Meta.Root)*ps:], 99999)
			return b
		},
		"root page flags": func() []byte {
			b := clone()
			binary.LittleEndian.PutUint16(b[int(info.Meta.Root)*ps+8:], 0x20)
			return b
		},
		"root page count": func() []byte {
			b := clone()
			binary.LittleEndian.PutUint16(b[int(info.Meta.Root)*ps+10:], 0xFFFF)
			return b
		},
	}
	for name, damage := range cases {
		if _, err := boltcheck.Check(write(damage()), 0); !errors.Is(err, boltcheck.ErrCorrupt) {
			t.Errorf("%s: %v; want ErrCorrupt", name, err)
		}
	}
	// The newest meta page damaged: bbolt would open the transaction before;
	// only the transaction recorded at close tells.
	b := clone()
	newest := int(txid % 2)
	b[newest*ps+16+8] ^= 0x40 // its page size, under the checksum
	p := write(b)
	if info, err := boltcheck.Check(p, 0); err != nil || info.Meta.Txid != txid-1 {
		t.Errorf("newest meta damaged, no transaction given: %+v, %v; want the one before", info.Meta, err)
	}
	if _, err := boltcheck.Check(p, txid); !errors.Is(err, boltcheck.ErrCorrupt) {
		t.Errorf("newest meta damaged, transaction %d given: %v; want ErrCorrupt", txid, err)
	}
}
