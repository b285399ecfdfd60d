// A Go implementation that panics on every document (exit 2, "panic:" and the
// goroutine's stack on stderr). With CRASH_SAYS_ERROR=1 it first logs an `error:` line.
package main

import (
	"fmt"
	"os"
)

func convert(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		panic(err)
	}
	if os.Getenv("CRASH_SAYS_ERROR") == "1" {
		fmt.Fprintf(os.Stderr, "error: cannot convert %s\n", path)
	}
	var cells []int
	return fmt.Sprint(cells[len(data)%7+1])
}

func main() {
	fmt.Println(convert(os.Args[1]))
}
