package streams_test

import (
	"fmt"

	"github.com/ordeal-dev/ordeal/engines/streams"
	_ "github.com/ordeal-dev/ordeal/engines/streams/memory"
)

func Example() {
	s, err := streams.Open("memory", streams.Options{})
	if err != nil {
		panic(err)
	}
	defer s.Close()
	if _, err := s.Create("events", streams.Config{ContentType: "application/json"}); err != nil {
		panic(err)
	}
	p := &streams.Producer{ID: "writer-1", Epoch: 0, Seq: 0}
	r, _ := s.Append("events", []byte(`{"a":1}`), streams.AppendOptions{Producer: p})
	fmt.Println("appended at", r.Offset, "next", r.Next)
	r, _ = s.Append("events", []byte(`{"a":1}`), streams.AppendOptions{Producer: p})
	fmt.Println("retry is a duplicate:", r.Duplicate)
	from, _ := streams.ParseOffset("-1")
	res, _ := s.Read("events", from)
	fmt.Println(len(res.Messages), "message(s), next", res.Next)
	// Output:
	// appended at 0000000000000000_0000000000000000 next 0000000000000001_0000000000000007
	// retry is a duplicate: true
	// 1 message(s), next 0000000000000001_0000000000000007
}
